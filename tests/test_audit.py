"""The audit trail (audit.py) and request ids (requestid.py), on every store.

Each test makes one event happen and finds exactly one audit line for it, with
every field the issue names. That no secret is ever logged is checked over the
whole run by conftest's ``no_secret_in_logs``.
"""
import json
import logging

import pytest

from sessiondemo.sessions.record import EPOCH_KEY, handle_of, store_key

from .helpers import AUDIT_FIELDS as FIELDS, PASSWORD, assert_error, is_server_side

def handle(client):
    """The handle of the client's current session, as /api/sessions shows it."""
    return next(row['handle'] for row in client.get('/api/sessions').json['sessions']
                if row['current'])


def test_register(testapp, audit):
    response = testapp.register('frodo')
    line = audit.one('register', 'success', username='frodo',
                     user_id=response.json['user']['id'])
    assert line['session'] == handle(testapp)
    assert line['request_id'] == response.headers['X-Request-ID']


def test_register_taken(testapp, make_client, audit):
    testapp.register('frodo')
    make_client().register('frodo', status=409)
    audit.one('register', 'success')
    assert len(audit.of('register', 'conflict', username='frodo', user_id=None)) == 1


def test_login_succeeded_names_the_new_session(testapp, make_client, audit):
    testapp.register('frodo')
    client = make_client()
    user_id = client.login('frodo').json['user']['id']
    assert len(audit.of('login')) == 1
    line = audit.one('login', 'success', username='frodo', user_id=user_id)
    assert line['session'] == handle(client)


def test_login_failed_unknown_user_and_wrong_password_alike(testapp, make_client, audit):
    testapp.register('frodo')
    make_client().login('frodo', 'not the password', status=401)
    make_client().login('nobody', 'not the password', status=401)
    wrong, unknown = audit.of('login')
    assert set(wrong) == set(unknown) >= FIELDS
    for line, name in ((wrong, 'frodo'), (unknown, 'nobody')):
        assert (line['outcome'], line['user_id'], line['username'], line['session']) == \
            ('failure', None, name, None)


def test_login_failed_from_the_form(testapp, audit):
    form_login(testapp, 'nobody')
    audit.one('login', 'failure', username='nobody', user_id=None)


def form_login(client, username):
    page = client.get('/login')
    page.form['username'] = username
    page.form['password'] = 'not the password'
    page.form.submit(status=401)


def test_attempted_username_is_capped_and_escaped(make_client, audit):
    # The form takes any username (the API refuses one past 64 characters).
    name = 'x' * 100 + '\n{"event": "login", "outcome": "success"}'
    form_login(make_client(), name)
    form_login(make_client(), 'bad\nname"}')
    assert [line['outcome'] for line in audit.lines] == ['failure', 'failure']
    assert audit.lines[0]['username'] == 'x' * 64 + '...'
    assert audit.lines[1]['username'] == 'bad\nname"}'      # as JSON, one line


def test_login_throttled(app_settings, make_app_client, audit):
    app_settings['auth.max_failures'] = '1'
    client = make_app_client(app_settings)
    client.login('frodo', 'not the password', status=401)
    client.login('frodo', 'not the password', status=429)
    audit.one('login', 'throttled', username='frodo', user_id=None)
    assert len(audit.of('login', 'failure')) == 1


def test_logout(testapp, audit):
    user_id = testapp.register('frodo').json['user']['id']
    session = handle(testapp)
    testapp.logout()
    testapp.logout()                    # anonymous by now: not a second logout
    audit.one('logout', 'success', user_id=user_id, session=session)


def two_devices(make_client):
    first, second = make_client(), make_client()
    first.register('frodo')
    second.login('frodo')
    return first, second


def test_revoke_one(make_client, store, audit):
    first, second = two_devices(make_client)
    # The cookie store lists (and revokes) only the current session.
    target = handle(second) if is_server_side(store) else handle(first)
    first.api('DELETE', f'/api/sessions/{target}', status=200)
    audit.one('session_revoked', 'success', reason='one', session=target, user_id=1)


def test_revoke_others(make_client, store, audit):
    first, second = two_devices(make_client)
    current = handle(first)
    revoked = first.api('POST', '/api/sessions/revoke-others', status=200).json['revoked']
    audit.one('session_revoked', 'success', reason='others', count=revoked, session=current,
              user_id=1)


def test_revoked_session_is_dropped_at_identity_time(app, make_client, store, audit):
    first, second = two_devices(make_client)
    stale = handle(second)
    if is_server_side(store):
        # The store deletes what is revoked; what the identity check drops
        # there is a session whose login fields are not ours.
        backend = app.registry.session_backend
        key = store_key(backend.session_id(second.get('/api/csrf').request))
        record = backend.store.load(key)
        record.data[EPOCH_KEY] = 'not an epoch'
        backend.store.save(key, record, record.to_json(), record.expires_at(backend.timeouts))
    else:
        first.api('POST', '/api/sessions/revoke-others', status=200)
    assert_error(second.get('/api/me', expect_errors=True), 401, 'unauthenticated')
    audit.one('session_revoked', 'success', reason='identity', session=stale)


def test_password_change(make_client, audit):
    first, second = two_devices(make_client)
    first.api('POST', '/api/password', {'current_password': 'wrong password',
                                        'new_password': 'a brand new passphrase'}, status=401)
    assert len(audit.of('password_changed', 'failure', user_id=1)) == 1
    first.api('POST', '/api/password', {'current_password': PASSWORD,
                                        'new_password': 'a brand new passphrase'}, status=200)
    assert len(audit.of('password_changed', 'success', user_id=1,
                        session=handle(first))) == 1
    audit.one('session_revoked', 'success', reason='password_change', user_id=1)


def test_password_change_throttled(app_settings, make_app_client, audit):
    app_settings['auth.max_failures'] = '1'
    client = make_app_client(app_settings)
    client.register('frodo')
    body = {'current_password': 'wrong password', 'new_password': 'a brand new passphrase'}
    client.api('POST', '/api/password', body, status=401)
    client.api('POST', '/api/password', body, status=429)
    assert len(audit.of('password_changed', 'throttled', user_id=1)) == 1


def test_csrf_refused(testapp, audit):
    testapp.register('frodo')
    session = handle(testapp)
    testapp.api('POST', '/api/logout', csrf=False, status=403)
    audit.one('csrf_refused', 'refused', session=session)


def test_anonymous_csrf_refusal(testapp, audit):
    testapp.api('POST', '/api/login', {'username': 'frodo', 'password': PASSWORD}, csrf=False,
                status=403)
    audit.one('csrf_refused', 'refused', session=None, user_id=None)


def test_the_audit_is_off_with_observe_disabled(app_settings, make_app_client, audit):
    app_settings['observe.enabled'] = 'false'
    client = make_app_client(app_settings)
    response = client.register('frodo')
    client.logout()
    assert audit.lines == []
    assert client.get('/metrics', expect_errors=True).status_int == 404
    # Request ids and Server-Timing are not part of the switch: always on.
    assert 'X-Request-ID' in response.headers and 'Server-Timing' in response.headers


# Request ids -----------------------------------------------------------------

@pytest.mark.parametrize('store', ['memory'])
@pytest.mark.parametrize('supplied', ['abc', 'A.b_c:d-9', 'x' * 128])
def test_a_well_formed_request_id_is_kept(testapp, supplied):
    assert testapp.get('/healthz', headers={'X-Request-ID': supplied}).headers[
        'X-Request-ID'] == supplied


@pytest.mark.parametrize('store', ['memory'])
@pytest.mark.parametrize('supplied', ['', 'x' * 129, 'a b', 'a\tb', 'é', 'a/b', 'a"b', 'a;b'])
def test_another_request_id_is_replaced(testapp, supplied):
    made = testapp.get('/healthz', headers={'X-Request-ID': supplied}).headers['X-Request-ID']
    assert made != supplied and len(made) == 32 and int(made, 16) >= 0


@pytest.mark.parametrize('store', ['memory'])
def test_every_log_line_of_a_request_carries_its_id(testapp, audit, caplog):
    testapp.register('frodo')
    caplog.clear()
    with caplog.at_level(logging.INFO):
        response = testapp.api('POST', '/api/logout', csrf=False,
                               headers={'X-Request-ID': 'trace-42'}, status=403)
    assert response.headers['X-Request-ID'] == 'trace-42'
    ours = [r for r in caplog.records if r.name == 'sessiondemo.audit']
    assert ours and all(r.request_id == 'trace-42' for r in ours)
    assert audit.lines[-1]['request_id'] == 'trace-42'
    made = testapp.get('/healthz').headers['X-Request-ID']
    assert made != 'trace-42'
    # A login's line is written by a response callback, after the tweens.
    caplog.clear()
    with caplog.at_level(logging.INFO):
        testapp.login(headers={'X-Request-ID': 'trace-43'})
        logging.getLogger('sessiondemo.elsewhere').warning('between requests')
    (login, between) = [r for r in caplog.records if r.name.startswith('sessiondemo.')]
    assert login.request_id == 'trace-43' and json.loads(login.getMessage())['event'] == 'login'
    assert between.request_id == '-'


def test_handle_is_not_the_session_id(testapp, app, audit):
    testapp.register('frodo')
    request = testapp.get('/api/csrf').request
    sid = app.registry.session_backend.session_id(request)
    line = audit.one('register', 'success')
    assert line['session'] == handle_of(store_key(sid))
    text = json.dumps(audit.lines)
    assert sid not in text and testapp.session_cookie() not in text
