"""The SQL store on real SQLite and PostgreSQL: the table, the purge, the scripts.

What every store promises (touch, compare-and-set, the user index, expiry) is
test_store_protocol.py's; this is how SQL keeps it: rows, timeouts, scripts.
"""
import hashlib
import json
import time

import pytest
from sqlalchemy import create_engine, inspect, text

from sessiondemo.scripts import initialize_db, purge

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
