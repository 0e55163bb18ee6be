"""A store that stops answering: 503 store_unavailable in bounded time, then recovery.

SIGSTOP is the nasty outage: the server's kernel still accepts connections and
acknowledges bytes, so only the client's own timeouts can end the wait.
"""
import sqlite3
import time

import pytest

from realservers import RedisServer, wait_until

from .helpers import assert_error

TIMEOUT = 0.5
PROBE = 0.5             # session.store_probe_interval's default


def assert_unavailable(response):
    assert_error(response, 503, 'store_unavailable')
    assert response.headers['Retry-After']
    assert not [h for h in response.headers.getall('Set-Cookie') if h.startswith('sid=')]


def back_within(client, seconds, path='/healthz'):
    """A hung store opened the breaker (connections/breaker.py): it answers
    again once a probe has found it back, within a probe interval."""
    wait_until(lambda: client.get(path, expect_errors=True).status_int == 200, seconds,
               f'{path} back')


def timed(action):
    start = time.monotonic()
    result = action()
    return result, time.monotonic() - start


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own, to pause without disturbing others."""
    with RedisServer(tmp_path / 'redis') as server:
        yield server


@pytest.mark.parametrize('store', ['redis'])
def test_paused_redis_is_a_quick_503_and_service_resumes(own_redis, app_settings,
                                                         make_app_client):
    client = make_app_client(dict(app_settings, **{
        'session.redis.url': own_redis.url, 'session.store_timeout': str(TIMEOUT)}))
    client.register('frodo')
    client.api('PATCH', '/api/session/data', {'name': 'Frodo'}, status=200)
    cookie = client.session_cookie()

    own_redis.pause()
    try:
        response, elapsed = timed(lambda: client.get('/api/me', expect_errors=True))
        assert_unavailable(response)
        assert elapsed < TIMEOUT + 0.5
        health, elapsed = timed(lambda: client.get('/healthz', expect_errors=True))
        assert_unavailable(health)
        assert elapsed < TIMEOUT + 0.5
        page = client.get('/', expect_errors=True)
        assert page.status_int == 503 and page.content_type == 'text/html'
        assert client.session_cookie() == cookie
    finally:
        own_redis.resume()

    back_within(client, PROBE + 0.2)
    assert client.get('/healthz').json['status'] == 'ok'
    assert client.get('/api/me').json['user']['username'] == 'frodo'
    assert client.get('/api/session/data').json == {'data': {'name': 'Frodo'}}


@pytest.mark.parametrize('store', ['redis'])
def test_redis_that_refuses_writes_is_a_503_and_loses_nothing(own_redis, app_settings,
                                                              make_app_client):
    """A server that answers with an error (OOM at maxmemory, READONLY on a
    replica, NOPERM) is as unavailable as one that does not answer."""
    client = make_app_client(dict(app_settings, **{'session.redis.url': own_redis.url}))
    client.register('frodo')
    client.api('PATCH', '/api/session/data', {'name': 'Frodo'}, status=200)
    own_redis.cli('CONFIG', 'SET', 'maxmemory', '1')    # every write: OOM (noeviction)
    try:
        assert_unavailable(client.api('PATCH', '/api/session/data', {'name': 'Sam'},
                                      status=503))
        assert client.get('/api/me').json['user']['username'] == 'frodo'   # reads go on
    finally:
        own_redis.cli('CONFIG', 'SET', 'maxmemory', '0')
    assert client.get('/api/session/data').json == {'data': {'name': 'Frodo'}}
    client.api('PATCH', '/api/session/data', {'name': 'Sam'}, status=200)


@pytest.mark.parametrize('store', ['redis'])
def test_redis_that_is_gone_is_a_503_not_a_500(app_settings, make_app_client, tmp_path):
    server = RedisServer(tmp_path / 'redis').start()
    client = make_app_client(dict(app_settings, **{
        'session.redis.url': server.url, 'session.store_timeout': str(TIMEOUT)}))
    client.register('frodo')
    server.stop()
    assert_unavailable(client.get('/api/me', expect_errors=True))
    assert_unavailable(client.api('POST', '/api/login', {'username': 'frodo',
                                                        'password': 'x' * 10}))


@pytest.mark.parametrize('store', ['sql-postgresql'])
def test_paused_postgresql_is_a_503_and_service_resumes(postgres_server, app_settings,
                                                        make_app_client):
    client = make_app_client(dict(app_settings, **{'session.store_timeout': str(TIMEOUT)}))
    client.register('frodo')
    client.get('/api/me')                  # a pooled connection, as in steady use

    postgres_server.pause()
    try:
        # The pooled connection's statement is cut off by the store's watchdog.
        response, elapsed = timed(lambda: client.get('/api/me', expect_errors=True))
        assert_unavailable(response)
        assert elapsed < TIMEOUT + 0.5
        # A new connection waits at most psycopg's connect timeout (2 s at least).
        health, elapsed = timed(lambda: client.get('/healthz', expect_errors=True))
        assert_unavailable(health)
        assert elapsed < 2 + 0.5
    finally:
        postgres_server.resume()

    back_within(client, PROBE + 0.2)
    assert client.get('/healthz').json['status'] == 'ok'
    assert client.get('/api/me').json['user']['username'] == 'frodo'


@pytest.mark.parametrize('store', ['sql-postgresql'])
def test_restarted_postgresql_serves_the_same_session_at_once(postgres_server, app_settings,
                                                              make_app_client):
    client = make_app_client(app_settings)
    client.register('frodo')
    client.get('/api/me')
    postgres_server.stop_server()
    try:
        assert_unavailable(client.get('/api/me', expect_errors=True))
    finally:
        postgres_server.start_server()
    # The pool's connection died with the old server: replaced without a 503.
    assert client.get('/api/me').json['user']['username'] == 'frodo'


@pytest.mark.parametrize('store', ['sql-sqlite'])
def test_sqlite_locked_by_another_writer_is_a_503_in_time_and_no_outage(app_settings,
                                                                       make_app_client,
                                                                       dbengine):
    """A write that waits on another process's lock gives up after the store
    timeout (not SQLite's own 5 s), and the breaker does not take the wait for
    a hung server: the next write, once the lock is gone, is served."""
    client = make_app_client(dict(app_settings, **{
        'session.store_timeout': str(TIMEOUT), 'session.store_probe_interval': '30'}))
    client.register('frodo')
    client.api('PATCH', '/api/session/data', {'name': 'Frodo'}, status=200)

    other_writer = sqlite3.connect(dbengine.url.database, isolation_level=None)
    try:
        other_writer.execute('BEGIN IMMEDIATE')        # the database's write lock
        response, elapsed = timed(
            lambda: client.api('PATCH', '/api/session/data', {'name': 'Sam'}))
        assert_unavailable(response)
        assert TIMEOUT - 0.1 < elapsed < TIMEOUT + 0.5
        assert client.get('/api/me').json['user']['username'] == 'frodo'   # reads go on
    finally:
        other_writer.rollback()
        other_writer.close()

    client.api('PATCH', '/api/session/data', {'name': 'Sam'}, status=200)
    assert client.api('GET', '/api/session/data', status=200).json['data']['name'] == 'Sam'
