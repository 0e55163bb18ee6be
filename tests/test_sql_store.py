"""The SQL store on real SQLite and PostgreSQL: the table, the purge, the scripts.

What every store promises (touch, compare-and-set, the user index, expiry) is
test_store_protocol.py's; this is how SQL keeps it: rows, timeouts, scripts.
"""
import enum
import hashlib
import json
import shutil
import sqlite3
import time

import pytest
import psycopg
from sqlalchemy import bindparam, create_engine, func, inspect, select, text

from sessiondemo.connections import libpq
from sessiondemo.connections.breaker import Breaker
from sessiondemo.connections.sql import SqlConnection, make_engine
from sessiondemo.errors import StoreUnavailable
from sessiondemo.models import get_engine
from sessiondemo.scripts import initialize_db, purge
from sessiondemo.sessions.interfaces import REPLACED
from sessiondemo.sessions.record import Record
from sessiondemo.sessions.sqlstore import sessions

from .helpers import SECRET, Clock, build_store

BOTH = pytest.mark.parametrize('store', ['sql-sqlite', 'sql-postgresql'])


def rows(client):
    with client.app.registry.session_backend.store.bind.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(text('SELECT * FROM sessions'))]


@BOTH
def test_row_holds_the_ids_hash_json_data_and_metadata(testapp, clock):
    testapp.extra_environ['HTTP_USER_AGENT'] = 'hobbit-browser'
    testapp.register('frodo')
    testapp.api('PATCH', '/api/session/data', {'name': 'Frodo'}, status=200)
    sid = testapp.session_cookie().split('.')[0]
    (row,) = rows(testapp)
    assert row['key'] == hashlib.sha256(sid.encode()).hexdigest()
    assert not any(sid in str(value) for value in row.values())    # the id itself: nowhere
    assert json.loads(row['data'])['d']['data:name'] == 'Frodo'
    assert row['user_agent'] == 'hobbit-browser' and row['ip'] == '127.0.0.1'
    assert row['created'] == clock() and row['expires_at'] == clock() + 1800
    user_id = testapp.get('/api/me').json['user']['id']
    assert row['user_id'] == str(user_id)


@BOTH
def test_session_too_large_leaves_the_row_alone(testapp):
    testapp.register('frodo')
    before = rows(testapp)
    response = testapp.api('PATCH', '/api/session/data', {'blob': 'x' * 70_000})
    assert response.json['error']['code'] == 'session_too_large'
    assert rows(testapp) == before


def test_postgresql_gets_the_store_timeout_as_statement_timeout(postgresql_store_settings, clock):
    store = build_store('sql', dict(postgresql_store_settings,
                                    **{'session.store_timeout': '0.25'}), clock)
    with store.connection.engine.connect() as connection:
        assert connection.exec_driver_sql('SHOW statement_timeout').scalar() == '250ms'
    store.bind.dispose()


KEY = 'k' * 64
# A statement with one parameter and an int8 result, on a table every test database has.
COUNT_SINCE = select(func.count()).select_from(sessions).where(
    sessions.c.created > bindparam('t'))


def stored_record(**more):
    return Record(data={'name': 'Frodo "of" the Shire \\ \u00e9\U0001f48d', 'n': 2 ** 40},
                  created=1733512345.1234567, touched=1733512345.9876543,
                  user_id=7, user_agent="Mozilla/5.0 \u00e9 'quoted'", ip='::1', **more)


def save_record(store, clock):
    """``stored_record()`` saved under KEY, at its own touched time."""
    record = stored_record()
    clock.now = record.touched
    store.save(KEY, record, record.to_json(), expires_at=record.touched + 600)
    return record


@pytest.fixture
def pg_store(postgresql_store_settings, clock):
    """The SQL store on PostgreSQL; it connects at its first statement."""
    store = build_store('sql', postgresql_store_settings, clock)
    yield store
    store.bind.dispose()


@pytest.fixture
def pg_connection(postgres_server):
    connection = SqlConnection(create_engine(postgres_server.url))
    yield connection
    connection.bind.dispose()


def test_postgresql_gives_back_exactly_what_it_was_given(pg_store, clock):
    """Parameters go to libpq as text, results come back as text (libpq.py):
    floats to the last bit, any Unicode, quotes and backslashes, None; and a
    compare-and-set matches the data it read, byte for byte."""
    record = save_record(pg_store, clock)
    loaded = pg_store.load(KEY)
    assert loaded == record and loaded.touched == 1733512345.9876543
    changed = Record(**{**vars(loaded), 'data': {'name': 'Sam'}, 'source': None})
    assert pg_store.replace(KEY, changed, changed.to_json(), record.touched + 600,
                            expected=loaded.source) == REPLACED
    assert pg_store.load(KEY).data == {'name': 'Sam'}
    anonymous = Record(data={'a': 1}, created=clock.now, touched=clock.now)
    pg_store.save('a' * 64, anonymous, anonymous.to_json(), expires_at=clock.now + 600)
    assert pg_store.load('a' * 64) == anonymous
    assert pg_store.sessions_of(7) == [(KEY, pg_store.load(KEY))]


def test_postgresql_refuses_a_nul_in_text_instead_of_cutting_it(pg_store, clock):
    """libpq reads text parameters up to their first NUL: a value with one is
    refused (a 503, as psycopg's own cursor refuses it), never stored cut short."""
    record = save_record(pg_store, clock)
    tampered = Record(**{**vars(record), 'user_agent': 'agent\x00hidden', 'source': None})
    with pytest.raises(StoreUnavailable):
        pg_store.save(KEY, tampered, tampered.to_json(), expires_at=record.touched + 600)
    assert pg_store.load(KEY) == record


def test_a_postgresql_error_is_a_503_and_the_connection_serves_on(pg_connection):
    """A statement the server refuses (here a number that is not one: SQLSTATE
    22P02) fails as StoreUnavailable, caused by psycopg's class for that
    SQLSTATE; the next statement runs on the same connection."""
    later = pg_connection.compile(COUNT_SINCE)
    count, = pg_connection.execute(later, {'t': 0.5}, fetch='one')
    held = pg_connection._local.connection
    with pytest.raises(StoreUnavailable) as caught:
        pg_connection.execute(later, {'t': 'not a number'}, fetch='one')
    assert isinstance(caught.value.__cause__, psycopg.errors.InvalidTextRepresentation)
    assert pg_connection.execute(later, {'t': 0.5}, fetch='one') == (count,)
    assert type(count) is int
    assert pg_connection._local.connection is held


def test_statements_the_server_forgot_are_prepared_again_on_a_new_connection(pg_connection):
    """A pooler's DISCARD ALL (or DEALLOCATE ALL) drops the statements this
    connection prepared: the next run makes a new connection, not a 503."""
    count = pg_connection.compile(COUNT_SINCE)
    expected = pg_connection.execute(count, {'t': 0.5}, fetch='one')
    held = pg_connection._local.connection
    held.pgconn.exec_(b'DEALLOCATE ALL')
    assert pg_connection.execute(count, {'t': 0.5}, fetch='one') == expected
    assert pg_connection._local.connection is not held


def test_text_is_utf8_whatever_the_client_encoding_would_be(pg_store, clock, postgres_server,
                                                            monkeypatch):
    """libpq.py sends and reads UTF-8: with PGCLIENTENCODING=LATIN1 in the
    environment (read when the store connects, at its first statement) the row
    still holds the very text, as another client reads it."""
    monkeypatch.setenv('PGCLIENTENCODING', 'LATIN1')
    record = save_record(pg_store, clock)
    assert pg_store.load(KEY) == record
    reader = create_engine(postgres_server.url, connect_args={'client_encoding': 'UTF8'})
    try:
        with reader.connect() as connection:
            row = connection.execute(text('SELECT data, user_agent FROM sessions WHERE key = :k'),
                                     {'k': KEY}).one()
    finally:
        reader.dispose()
    assert tuple(row) == (record.to_json(), record.user_agent)


def test_a_result_of_a_type_it_cannot_read_is_an_error_not_a_guess(pg_connection):
    with pytest.raises(TypeError, match='type oid'):
        pg_connection.execute(pg_connection.compile(select(func.now())), {}, fetch='one')


def test_parameters_go_in_their_text_form():
    class Level(enum.IntEnum):
        HIGH = 3

    assert [libpq.as_text(v) for v in (None, 'é', True, False, Level.HIGH, 0.1, 2 ** 70)] == [
        None, 'é'.encode(), b'true', b'false', b'3', b'0.1', str(2 ** 70).encode()]
    with pytest.raises(TypeError):
        libpq.as_text(b'bytes')


def write_ini(path, **settings):
    lines = ['[app:main]', 'use = egg:sessiondemo'] + [f'{k} = {v}' for k, v in settings.items()]
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


@BOTH
def test_expired_rows_stay_until_purge_says_how_many(store, app_settings, make_app_client,
                                                     tmp_path, capsys):
    sql_url = app_settings.get('session.sql.url', app_settings['sqlalchemy.url'])
    # Two sessions made long ago (by real time, which the script uses) and one now.
    old = dict(app_settings, **{'sessiondemo.clock': Clock(time.time() - 100_000)})
    for name in ('frodo', 'sam'):
        make_app_client(old).register(name)
    fresh = make_app_client(app_settings)
    fresh.login('frodo')
    assert len(rows(fresh)) == 3                     # expired rows are still there

    ini = write_ini(tmp_path / 'purge.ini', **{
        'sqlalchemy.url': app_settings['sqlalchemy.url'], 'session.sql.url': sql_url,
        'session.store': 'sql', 'session.secrets': SECRET})
    assert purge.main(['sessiondemo-purge', ini]) == 2
    assert capsys.readouterr().out == 'deleted 2 expired sessions\n'
    assert len(rows(fresh)) == 1
    assert fresh.get('/api/me').json['user']['username'] == 'frodo'
    assert purge.main(['sessiondemo-purge', ini]) == 0
    assert capsys.readouterr().out == 'deleted 0 expired sessions\n'


def test_initdb_migrates_a_separate_sessions_database(tmp_path, capsys):
    users, sessions = tmp_path / 'users.sqlite', tmp_path / 'sessions.sqlite'
    ini = write_ini(tmp_path / 'app.ini', **{
        'sqlalchemy.url': f'sqlite:///{users}', 'session.sql.url': f'sqlite:///{sessions}',
        'session.secrets': SECRET})
    initialize_db.main(['sessiondemo-initdb', ini])
    assert capsys.readouterr().out.count('is up to date') == 2
    for path in (users, sessions):
        engine = create_engine(f'sqlite:///{path}')
        tables = set(inspect(engine).get_table_names())
        engine.dispose()
        assert {'users', 'sessions'} <= tables
    indexes = {i['name'] for i in inspect(create_engine(f'sqlite:///{sessions}'))
               .get_indexes('sessions')}
    assert indexes == {'ix_sessions_user_id', 'ix_sessions_expires_at'}


@pytest.mark.parametrize('engine', ['own', 'users'])
@pytest.mark.parametrize('through', ['execute', 'run'])
def test_a_sqlite_lock_held_past_the_timeout_is_a_503_in_time_but_no_hang(tmp_path, through,
                                                                          engine):
    """Another writer's lock, held past the store timeout: that statement is a
    503 after the store timeout (on the users engine too, whose connections
    wait 5 s for the ORM, and wait 5 s again after), but the database
    answered (busy), so the breaker stays closed."""
    path = tmp_path / 'locked.sqlite'
    url = f'sqlite:///{path}'
    bind = make_engine(url, 0.2) if engine == 'own' else get_engine({'sqlalchemy.url': url})
    connection = SqlConnection(bind, timeout=0.2, breaker=Breaker('sql', hung_after=0.9 * 0.2))
    connection.run(lambda c: c.execute(text('CREATE TABLE t (n INTEGER)')))
    insert = connection.compile(text('INSERT INTO t VALUES (1)'))
    write = {'execute': lambda: connection.execute(insert, {}),
             'run': lambda: connection.run(lambda c: c.execute(text('INSERT INTO t VALUES (1)')))}
    other_writer = sqlite3.connect(path, isolation_level=None)
    try:
        other_writer.execute('BEGIN IMMEDIATE')
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            write[through]()
        assert 0.9 * 0.2 <= time.monotonic() - started < 0.2 + 0.5   # long enough to be a hang
    finally:
        other_writer.rollback()
        other_writer.close()
    assert connection.breaker.state == 'closed'
    write[through]()
    with bind.connect() as pooled:          # what the engine's other users get back
        waits = pooled.exec_driver_sql('PRAGMA busy_timeout').scalar()
    assert waits == (200 if engine == 'own' else 5000)
    bind.dispose()



@pytest.mark.parametrize('store', ['sql-sqlite'])
@pytest.mark.parametrize('engine', ['own', 'users'])
@pytest.mark.parametrize('setting, expected', [(None, 1), ('normal', 1), ('full', 2)])
def test_session_writes_wait_for_the_disk_as_session_sql_synchronous_says(
        app_settings, make_app_client, tmp_path, db_template, engine, setting, expected):
    """SQLite's synchronous on the store's own connections (its reads and
    session writes): NORMAL unless ``full`` is asked for. The users engine's
    pooled connections (the users' rows, the deny list, the throttle) keep
    SQLite's FULL whatever the setting."""
    if engine == 'own':
        sessions_file = tmp_path / 'sessions.sqlite'
        shutil.copy(db_template, sessions_file)
        app_settings['session.sql.url'] = f'sqlite:///{sessions_file}'
    if setting is not None:
        app_settings['session.sql.synchronous'] = setting
    client = make_app_client(app_settings)
    client.register('frodo')
    store = client.app.registry.session_backend.store
    own = store.connection._local.connection       # this thread's, as register used it
    assert own.execute('PRAGMA synchronous').fetchone() == (expected,)
    with client.app.registry['dbengine'].connect() as pooled:
        assert pooled.exec_driver_sql('PRAGMA synchronous').scalar() == 2
