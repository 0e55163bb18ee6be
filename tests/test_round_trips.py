"""Round trips per authenticated read, counted where they land.

Redis: the server's own ``INFO commandstats`` (every node of a cluster), so
nothing the client does can hide a command. SQL: the statements on the
sessions table, from SQLite's trace and PostgreSQL's ``pg_stat_statements``
(realservers.record_statements); the users database is asked nothing for the
identity.
"""
import re

import pytest
import redis

from realservers import record_statements, trace_sqlite

READ_WINDOW = 10        # seconds between reads: inside the 60 s touch interval


def store_of(client):
    return client.app.registry.session_backend.store


class ServerCommands:
    """Calls per command, summed over Redis servers, read from INFO commandstats.

    Its own connections are made once, up front, so that their handshake
    (HELLO, CLIENT SETINFO) never falls between two snapshots.
    """

    def __init__(self, urls):
        self.connections = [redis.Redis.from_url(url) for url in urls]
        self.snapshot()

    def snapshot(self):
        totals = {}
        for connection in self.connections:
            for name, stats in connection.info('commandstats').items():
                command = name.removeprefix('cmdstat_')
                totals[command] = totals.get(command, 0) + stats['calls']
        return totals

    def during(self, action):
        """The commands the servers ran while ``action()`` ran (our INFO left out)."""
        before = self.snapshot()
        action()
        after = self.snapshot()
        changed = {k: after[k] - before.get(k, 0) for k in after
                   if after[k] != before.get(k, 0)}
        changed.pop('info', None)
        return changed

    def close(self):
        for connection in self.connections:
            connection.close()


@pytest.fixture
def commands(request, store):
    """Counts the commands run by every Redis server that holds the store's sessions."""
    if store == 'redis':
        urls = [request.getfixturevalue('redis_server').url]
    else:
        urls = [node.url for node in request.getfixturevalue('redis_cluster').nodes]
    counter = ServerCommands(urls)
    yield counter
    counter.close()


@pytest.mark.parametrize('store', ['redis', 'redis-cluster'])
def test_redis_read_is_one_get_and_the_touch_one_script(commands, testapp, clock):
    testapp.register('frodo')
    # Warm up: connections made, and the touch script loaded once per server
    # (NOSCRIPT, SCRIPT LOAD: the first touch after a start or a restart of Redis).
    clock.advance(60)
    testapp.get('/api/me')

    for _ in range(3):
        clock.advance(READ_WINDOW)
        assert commands.during(lambda: testapp.get('/api/me', status=200)) == {'get': 1}

    clock.advance(60)                       # the touch is due
    # One GET and one EVALSHA from the client; the script's own two commands
    # run inside Redis and show up in its statistics too.
    assert commands.during(lambda: testapp.get('/api/me', status=200)) == {
        'get': 1, 'evalsha': 1, 'pexpire': 1, 'setrange': 1}

    clock.advance(READ_WINDOW)              # touched: back inside the window
    assert commands.during(lambda: testapp.get('/api/me', status=200)) == {'get': 1}


@pytest.mark.parametrize('store', ['redis', 'redis-cluster'])
def test_redis_writes_are_one_round_trip_each(commands, testapp):
    # A new logged-in session: one SET, and its user's index refreshed in the
    # same pipelined round trip (HELLO: a cluster client's first connection to
    # the node that holds the index, not a per-request cost).
    counts = commands.during(lambda: testapp.register('frodo'))
    counts.pop('hello', None)
    assert counts == {'set': 1, 'zadd': 1, 'zremrangebyscore': 1, 'pexpire': 2}
    testapp.api('PATCH', '/api/session/data', {'warm': 'up'}, status=200)  # loads the script
    # A change to an existing session: the read (GET), then one EVALSHA of the
    # compare-and-set script, which runs GET + SET inside Redis.
    assert commands.during(lambda: testapp.api(
        'PATCH', '/api/session/data', {'name': 'Frodo'}, status=200)) == {
        'get': 2, 'evalsha': 1, 'set': 1}
    assert commands.during(lambda: testapp.logout()) == {'get': 1, 'del': 1}


def count_session_statements(client):
    """The SQL statements about sessions the database ran, from now on."""
    return record_statements(store_of(client).bind, lambda sql: re.search(r'\bsessions\b', sql))


def verbs(statements):
    """Their verbs, sorted (PostgreSQL's counts say how many, not in which order)."""
    return sorted(sql.split()[0].upper() for sql in statements)


@pytest.mark.parametrize('store', ['sql-sqlite', 'sql-postgresql'])
def test_sql_read_is_one_select_and_the_touch_one_update(testapp, clock):
    client = testapp
    client.register('frodo')
    statements = count_session_statements(client)

    for _ in range(3):
        clock.advance(READ_WINDOW)
        statements.clear()
        assert client.get('/api/me').json['user']['username'] == 'frodo'
        assert verbs(statements) == ['SELECT']

    clock.advance(60)
    statements.clear()
    client.get('/api/me')
    assert verbs(statements) == ['SELECT', 'UPDATE']

    clock.advance(READ_WINDOW)
    statements.clear()
    client.get('/api/me')
    assert verbs(statements) == ['SELECT']


@pytest.mark.parametrize('store', ['sql-sqlite', 'sql-postgresql'])
def test_sql_save_is_one_upsert_and_logout_one_delete(testapp):
    client = testapp
    statements = count_session_statements(client)
    client.register('frodo')
    assert verbs(statements) == ['INSERT']          # a new session: one upsert
    statements.clear()
    client.api('PATCH', '/api/session/data', {'name': 'Frodo'}, status=200)
    # A change to an existing one: the read, then one compare-and-set UPDATE.
    assert verbs(statements) == ['SELECT', 'UPDATE']
    statements.clear()
    client.logout()
    assert verbs(statements) == ['DELETE', 'SELECT']


@pytest.mark.parametrize('store', ['memory', 'cookie', 'redis', 'sql-sqlite', 'sql-postgresql'])
def test_an_authenticated_read_asks_the_users_database_nothing(testapp, dbengine, clock, store):
    """The identity comes from the session: no users-database statement on the
    stores that delete revoked sessions, and one indexed lookup of the user's
    session epoch on the cookie store, which has nothing to delete. Counted
    where they land: SQLite's own trace of the statements it runs (the epoch
    lookup runs below SQLAlchemy, whose events never see it)."""
    testapp.register('frodo')
    statements = []

    def trace(statement):
        if not re.search(r'\bsessions\b', statement) and re.match(
                r'\s*(SELECT|INSERT|UPDATE|DELETE)', statement, re.I):
            statements.append(statement)        # sql-sqlite shares the engine

    trace_sqlite(dbengine, trace)       # every connection from now on is traced
    counts = []
    for _ in range(3):
        clock.advance(READ_WINDOW)
        statements.clear()
        assert testapp.get('/api/me').json['user']['username'] == 'frodo'
        counts.append(len(statements))
    # The cookie store looks its revocation up at most once; then this process
    # knows it until something is revoked (sessions/revocation.py).
    allowed = ([0, 0, 0], [1, 0, 0]) if store == 'cookie' else ([0, 0, 0],)
    assert counts in allowed, counts
