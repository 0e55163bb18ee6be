"""Managing one's sessions (http-api.md), on every store."""
import hashlib

from .helpers import PASSWORD, assert_error, is_server_side, session_set_cookies

NEW_PASSWORD = 'a brand new passphrase'


def three_logins(make_client):
    first = make_client()
    first.register('frodo')
    devices = [first]
    for agent in ('phone', 'tablet'):
        client = make_client()
        client.extra_environ['HTTP_USER_AGENT'] = agent
        client.login('frodo')
        devices.append(client)
    return devices


def test_revoke_others_logs_out_every_other_session(make_client):
    first, second, third = three_logins(make_client)
    response = first.api('POST', '/api/sessions/revoke-others', status=200)
    assert isinstance(response.json['revoked'], int)
    for other in (second, third):
        assert_error(other.get('/api/me', expect_errors=True), 401, 'unauthenticated')
    assert first.get('/api/me').json['user']['username'] == 'frodo'
    first.api('PATCH', '/api/session/data', {'still': 'here'}, status=200)


def test_revoke_others_counts_what_a_server_side_store_deleted(make_client, store):
    first, *_ = three_logins(make_client)
    revoked = first.api('POST', '/api/sessions/revoke-others', status=200).json['revoked']
    assert revoked == (2 if is_server_side(store) else 0)


def test_revoke_others_leaves_other_users_alone(make_client):
    first, *_ = three_logins(make_client)
    sam = make_client()
    sam.register('sam')
    first.api('POST', '/api/sessions/revoke-others', status=200)
    sam.get('/api/me', status=200)


def test_password_change_revokes_others_and_renews_this_session(make_client):
    first, second, third = three_logins(make_client)
    first.api('PATCH', '/api/session/data', {'name': 'Frodo'}, status=200)
    before = first.session_cookie()
    response = first.api('POST', '/api/password',
                         {'current_password': PASSWORD, 'new_password': NEW_PASSWORD}, status=200)
    assert response.json == {'message': 'password changed'}
    assert first.session_cookie() != before
    assert first.get('/api/greet').json == {'message': 'hello Frodo'}
    for other in (second, third):
        assert_error(other.get('/api/me', expect_errors=True), 401, 'unauthenticated')
    assert_error(make_client().login('frodo', PASSWORD, status=None), 401, 'invalid_credentials')
    make_client().login('frodo', NEW_PASSWORD)


def test_password_change_old_cookie_of_this_session_is_dead(make_client, store):
    first = make_client()
    first.register('frodo')
    before = first.session_cookie()
    first.api('POST', '/api/password',
              {'current_password': PASSWORD, 'new_password': NEW_PASSWORD}, status=200)
    replay = make_client()
    replay.set_cookie('sid', before)
    assert_error(replay.get('/api/me', expect_errors=True), 401, 'unauthenticated')


def test_password_change_needs_the_current_password(make_client):
    first, second, _ = three_logins(make_client)
    response = first.api('POST', '/api/password',
                         {'current_password': 'wrong password', 'new_password': NEW_PASSWORD})
    assert_error(response, 401, 'invalid_credentials')
    second.get('/api/me', status=200)
    make_client().login('frodo', PASSWORD)


def test_password_change_validates_the_new_password(testapp):
    testapp.register('frodo')
    for body in ({'current_password': PASSWORD, 'new_password': 'short'},
                 {'current_password': PASSWORD},
                 {'new_password': NEW_PASSWORD},
                 {'current_password': PASSWORD, 'new_password': 12345678}):
        assert_error(testapp.api('POST', '/api/password', body), 400, 'invalid_input')
    testapp.get('/api/me', status=200)


def test_listing_shows_details_never_a_raw_id(make_client, store):
    first, second, third = three_logins(make_client)
    response = first.get('/api/sessions', status=200)
    sessions = response.json['sessions']
    assert all(set(s) == {'handle', 'created_at', 'last_seen_at', 'user_agent', 'ip', 'current'}
               for s in sessions)
    assert [s['current'] for s in sessions].count(True) == 1
    if is_server_side(store):
        assert len(sessions) == 3
        assert {s['user_agent'] for s in sessions} >= {'phone', 'tablet'}
        assert all(s['ip'] == '127.0.0.1' for s in sessions)
        assert [s['created_at'] for s in sessions] == sorted(
            (s['created_at'] for s in sessions), reverse=True)
    else:
        assert len(sessions) == 1
    for client in (first, second, third):
        sid = client.session_cookie().split('.')[0]
        assert sid not in response.text
        assert hashlib.sha256(sid.encode()).hexdigest() not in response.text


def test_revoke_one_session_by_handle(make_client, store):
    first, second, third = three_logins(make_client)
    sessions = first.get('/api/sessions').json['sessions']
    if is_server_side(store):
        phone = next(s for s in sessions if s['user_agent'] == 'phone')
        assert first.api('DELETE', f'/api/sessions/{phone["handle"]}', status=200).json == \
            {'revoked': 1}
        assert_error(second.get('/api/me', expect_errors=True), 401, 'unauthenticated')
        third.get('/api/me', status=200)
        first.get('/api/me', status=200)
        assert_error(first.api('DELETE', f'/api/sessions/{phone["handle"]}'), 404, 'not_found')
    else:
        (current,) = sessions
        assert current['current']


def test_revoking_the_current_session_logs_out(testapp, make_client):
    testapp.register('frodo')
    copy = testapp.session_cookie()
    (current,) = [s for s in testapp.get('/api/sessions').json['sessions'] if s['current']]
    testapp.api('DELETE', f'/api/sessions/{current["handle"]}', status=200)
    assert_error(testapp.get('/api/me', expect_errors=True), 401, 'unauthenticated')
    replay = make_client()                   # a copy is dead too, on every store
    replay.set_cookie('sid', copy)
    assert_error(replay.get('/api/me', expect_errors=True), 401, 'unauthenticated')


def test_a_session_found_revoked_is_ended_on_the_refusal(make_client, store):
    """Revoked elsewhere, found out when it next asks: the 401 also expires
    its cookie (and deletes what is left of it), not just refuses it."""
    first, second = make_client(), make_client()
    first.register('frodo')
    second.login('frodo')
    first.api('POST', '/api/sessions/revoke-others', status=200)
    refused = second.get('/api/me', expect_errors=True)
    assert_error(refused, 401, 'unauthenticated')
    if store.startswith('cookie'):        # server-side stores deleted it already
        (expired,) = session_set_cookies(refused)
        assert 'Max-Age=0' in expired
    assert second.session_cookie() is None or is_server_side(store)


def test_foreign_handles_are_404_and_invisible(make_client):
    frodo = make_client()
    frodo.register('frodo')
    sam = make_client()
    sam.register('sam')
    sams = sam.get('/api/sessions').json['sessions']
    frodos = frodo.get('/api/sessions').json['sessions']
    assert not {s['handle'] for s in sams} & {s['handle'] for s in frodos}
    for handle in [sams[0]['handle'], 'nope', '0' * 16]:
        assert_error(frodo.api('DELETE', f'/api/sessions/{handle}'), 404, 'not_found')
    sam.get('/api/me', status=200)


def test_session_management_needs_login(testapp):
    assert_error(testapp.get('/api/sessions', expect_errors=True), 401, 'unauthenticated')
    assert_error(testapp.api('POST', '/api/sessions/revoke-others'), 401, 'unauthenticated')
    assert_error(testapp.api('POST', '/api/password', {}), 401, 'unauthenticated')
    assert testapp.get('/sessions', status=303).location.endswith('/login?next=/sessions')


def test_sessions_page_revokes_others(make_client):
    first, second, _ = three_logins(make_client)
    page = first.get('/sessions', status=200)
    form = page.forms[len(page.forms) - 1]
    assert form.action == '/sessions/revoke-others'
    form.submit(status=303)
    second.get('/api/me', status=401)
    first.get('/sessions', status=200)


def test_revoke_others_counts_only_live_sessions(make_client, clock, store):
    idle = make_client()
    idle.register('frodo')
    clock.advance(1000)
    live = make_client()
    live.login('frodo')
    clock.advance(900)                     # the first is past its idle timeout now
    current = make_client()
    current.login('frodo')
    revoked = current.api('POST', '/api/sessions/revoke-others', status=200).json['revoked']
    assert revoked == (1 if is_server_side(store) else 0)
    assert_error(live.get('/api/me', expect_errors=True), 401, 'unauthenticated')
