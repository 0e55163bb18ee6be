"""The benchmarks' app (benchmarks/instrumented.py) is sessiondemo plus two bench
paths: SQLite's statement count, a trace that costs every statement a Python
callback, starts with the first counters reading, so apps that serve load and
never ask for it never pay it."""
import json

import pytest
from sqlalchemy import create_engine

from benchmarks import instrumented
from benchmarks.profile import Client, PASSWORD
from sessiondemo.scripts.initialize_db import upgrade

from .helpers import fresh_prefix


def make_client(tmp_path, **store):
    url = f'sqlite:///{tmp_path / "users.sqlite"}'
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    app = instrumented.main({}, **{'sqlalchemy.url': url, 'session.store': 'sql',
                                   'session.secrets': 'p' * 48, 'auth.bcrypt_rounds': '4',
                                   **store})
    client = Client(app)
    client.csrf = json.loads(client.call('GET', '/api/csrf'))['csrf_token']
    client.call('POST', '/api/register',
                json.dumps({'username': 'frodo', 'password': PASSWORD}).encode())
    client.csrf = json.loads(client.call('GET', '/api/csrf'))['csrf_token']
    return client


def stats(client, query=''):
    environ = dict(Client.BASE_ENVIRON, REQUEST_METHOD='GET', PATH_INFO='/__bench__/stats',
                   QUERY_STRING=query)
    return json.loads(b''.join(client.app(environ, lambda status, headers: None)))


def counters(client):
    return stats(client, 'counters')


def test_sqlite_statements_are_counted_from_the_first_reading_only(tmp_path):
    client = make_client(tmp_path)
    for index in range(5):                      # a login, reads and writes: nothing counted
        client.call('GET', '/api/me')
        client.call('PATCH', '/api/session/data', json.dumps({'k': index}).encode())
    assert counters(client)['sql_statements'] == 0
    client.call('GET', '/api/me')
    assert counters(client)['sql_statements'] == 1          # the session's SELECT
    client.call('PATCH', '/api/session/data', b'{"k": 9}')
    assert counters(client)['sql_statements'] == 3          # its SELECT and UPDATE


def test_redis_round_trips_are_counted_from_the_first_reading_only(tmp_path, redis_server):
    """Those on the serving threads' own connections (a session's GET, its
    compare-and-set script) as well as the client's (the login throttle's)."""
    client = make_client(tmp_path, **{'session.store': 'redis',
                                      'session.redis.url': redis_server.url,
                                      'session.redis.prefix': fresh_prefix()})
    client.call('GET', '/api/me')
    client.call('PATCH', '/api/session/data', b'{"k": 1}')
    assert counters(client)['redis_round_trips'] == 0
    client.call('GET', '/api/me')
    assert counters(client)['redis_round_trips'] == 1           # GET
    client.call('PATCH', '/api/session/data', b'{"k": 2}')
    assert counters(client)['redis_round_trips'] == 3           # GET, EVALSHA
    with pytest.raises(RuntimeError, match='401'):
        client.call('POST', '/api/login',
                    json.dumps({'username': 'frodo', 'password': 'wrong password'}).encode())
    assert counters(client)['redis_round_trips'] > 3            # the throttle's, by the client


def test_the_stats_paths_answer_without_counting(tmp_path):
    client = make_client(tmp_path)
    figures = stats(client)
    assert figures['records'] == 1 and figures['store'] == 'sql' and figures['rss_bytes'] > 0
    assert set(stats(client, 'rss')) == {'rss_bytes'}
    assert counters(client)['sql_statements'] == 0      # nothing counted before this reading
    assert instrumented.StoreStatements(None).count() == 0
