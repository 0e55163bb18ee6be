"""The HTTP contract (shared/spec/http-api.md), run unchanged against every store.

Like the shared mixin in Pyramid's own tests/test_session.py: one body of
tests, parametrized by the ``store`` fixture, that every session store must
pass. Store-specific differences are the ones the contract itself names.
"""
import base64
import json
import re
from datetime import datetime

import pytest

from .helpers import (OLD_SECRET, PASSWORD, SECRET, assert_error, is_server_side,
                      record_count, session_set_cookies)

PUBLIC = {
    ('GET', '/healthz'), ('GET', '/api/csrf'), ('GET', '/api/openapi.json'),
    ('POST', '/api/register'),
    ('POST', '/api/login'), ('POST', '/api/logout'), ('GET', '/login'), ('POST', '/login'),
    ('GET', '/register'), ('POST', '/register'),
}
# Not behind a login (a scraper has none) but behind metrics.allow_from
# (loopback by default): a client from elsewhere is told there is nothing there.
ADDRESS_GATED = {('GET', '/metrics')}
PROTECTED_API = [
    ('GET', '/api/me'), ('GET', '/api/users'), ('GET', '/api/session/data'),
    ('PATCH', '/api/session/data'), ('GET', '/api/greet'), ('GET', '/api/session'),
]


# Conventions ---------------------------------------------------------------

def test_unknown_api_path_is_json_404(testapp):
    assert_error(testapp.get('/api/nope', expect_errors=True), 404, 'not_found')


def test_unknown_page_is_an_html_404(testapp):
    response = testapp.get('/nope', expect_errors=True)
    assert response.status_int == 404
    assert response.content_type == 'text/html'
    assert '<h1>404</h1>' in response.text


def test_undecodable_path_is_404_not_500(testapp):
    assert testapp.get('/%ff', expect_errors=True).status_int == 404
    assert_error(testapp.get('/api/%ff', expect_errors=True), 404, 'not_found')


@pytest.mark.parametrize('method, path', [
    ('DELETE', '/api/me'), ('PUT', '/api/login'), ('GET', '/api/login'),
    ('POST', '/api/users'), ('GET', '/api/logout'), ('POST', '/healthz'),
])
def test_wrong_method_on_known_path_is_405(testapp, method, path):
    testapp.register()
    assert_error(testapp.api(method, path), 405, 'method_not_allowed')


def test_wrong_method_on_a_page_is_a_405_page(testapp):
    response = testapp.put('/login', expect_errors=True,
                           headers={'X-CSRF-Token': testapp.csrf_token()})
    assert response.status_int == 405
    assert response.content_type == 'text/html'


@pytest.mark.parametrize('path', ['/api/register', '/api/login', '/api/session/data'])
@pytest.mark.parametrize('body', [b'{"username": ', b'not json', b'\xff\xfe{}', b'NaN', b''])
def test_malformed_json_is_400_invalid_json(testapp, path, body):
    testapp.register()
    method = 'patch' if path.endswith('data') else 'post'
    response = getattr(testapp, method)(path, body, content_type='application/json',
                                        headers={'X-CSRF-Token': testapp.csrf_token()},
                                        expect_errors=True)
    assert_error(response, 400, 'invalid_json')


@pytest.mark.parametrize('path', ['/api/register', '/api/login', '/api/session/data'])
@pytest.mark.parametrize('body', [[], 'frodo', 42, None, [{'username': 'x'}]])
def test_json_that_is_not_an_object_is_400_invalid_input(testapp, path, body):
    testapp.register()
    method = 'PATCH' if path.endswith('data') else 'POST'
    assert_error(testapp.api(method, path, body), 400, 'invalid_input')


@pytest.mark.parametrize('path', ['/api/register', '/api/login', '/api/session/data', '/api/nope'])
def test_a_1mb_body_is_413_request_too_large(testapp, path):
    testapp.register()
    before = testapp.get('/api/me').json
    body = json.dumps({'username': 'x' * (1024 * 1024), 'password': PASSWORD})
    response = testapp.post(path, body, content_type='application/json', expect_errors=True,
                            headers={'X-CSRF-Token': testapp.csrf_token()})
    assert_error(response, 413, 'request_too_large')
    assert testapp.get('/api/me').json['user'] == before['user']


def test_body_limit_is_a_setting(app_settings, make_app_client):
    app_settings['http.max_body_bytes'] = '2048'
    client = make_app_client(app_settings)
    response = client.api('POST', '/api/login', {'username': 'frodo', 'password': 'p' * 3000})
    assert_error(response, 413, 'request_too_large')


# Access: deny by default ----------------------------------------------------

def test_every_view_not_listed_public_requires_login(testapp):
    """Walk every registered route and method: only the contract's list is public."""
    app = testapp.app
    token = testapp.csrf_token()
    seen = set()
    for intr in app.registry.introspector.get_category('views'):
        view = intr['introspectable']
        route = view['route_name']
        methods = view['request_methods']
        if route is None or methods is None:
            continue
        pattern = app.registry.introspector.get('routes', route)['pattern']
        for method in ([methods] if isinstance(methods, str) else methods):
            seen.add((method, pattern))
            response = testapp.request(pattern, method=method, expect_errors=True,
                                       headers={'X-CSRF-Token': token})
            if (method, pattern) in ADDRESS_GATED:
                assert response.status_int == 200, (method, pattern)   # the test client: loopback
                response = testapp.request(pattern, method=method, expect_errors=True,
                                           environ={'REMOTE_ADDR': '203.0.113.7'})
                assert response.status_int == 404, (method, pattern)
            elif (method, pattern) in PUBLIC:
                # Not the forbidden view's answer (a failed form login is a 401 page;
                # the OpenAPI document names every code, 'unauthenticated' included).
                if response.content_type == 'application/json':
                    code = response.json.get('error', {}).get('code')
                    assert code != 'unauthenticated', (method, pattern)
                else:
                    assert b'unauthenticated' not in response.body, (method, pattern)
                assert '/login?next=' not in (response.location or ''), (method, pattern)
            elif pattern.startswith('/api/'):
                assert response.status_int in (401, 403), (method, pattern)
            else:
                assert response.status_int in (303, 401, 403), (method, pattern)
                if method == 'GET':
                    assert response.location.endswith('/login?next=' + pattern)
    assert PUBLIC | ADDRESS_GATED <= seen | {('GET', '/static')}
    assert set(PROTECTED_API) <= seen


def test_default_permission_protects_views_added_later(app):
    from pyramid.interfaces import IDefaultPermission
    assert app.registry.queryUtility(IDefaultPermission) == 'view'


@pytest.mark.parametrize('method, path', PROTECTED_API)
def test_protected_api_is_401_for_anonymous(testapp, method, path):
    assert_error(testapp.api(method, path, **({'body': {}} if method == 'PATCH' else {})),
                 401, 'unauthenticated')


def test_protected_page_redirects_to_login_with_next(testapp):
    response = testapp.get('/?a=1', status=303)
    assert response.location.endswith('/login?next=/%3Fa%3D1') or \
        response.location.endswith('/login?next=/?a=1')


# CSRF ------------------------------------------------------------------------

def test_csrf_endpoint_gives_a_token_and_creates_no_session(testapp):
    response = testapp.get('/api/csrf', status=200)
    assert re.fullmatch(r'[A-Za-z0-9_-]{43}', response.json['csrf_token'])   # an HMAC-SHA256
    assert not session_set_cookies(response)
    assert record_count(testapp.app) in (None, 0)


def test_unsafe_request_without_token_is_403_and_changes_nothing(testapp):
    testapp.get('/api/csrf')
    response = testapp.post_json('/api/register', {'username': 'frodo', 'password': PASSWORD},
                                 expect_errors=True)
    assert_error(response, 403, 'bad_csrf')
    assert not session_set_cookies(response)
    testapp.login(status=401)   # the user was not created


def test_another_clients_token_is_refused(make_client):
    alice, mallory = make_client(), make_client()
    stolen = mallory.csrf_token()
    alice.csrf_token()
    response = alice.post_json('/api/register', {'username': 'alice', 'password': PASSWORD},
                               headers={'X-CSRF-Token': stolen}, expect_errors=True)
    assert_error(response, 403, 'bad_csrf')


def test_token_without_its_cookie_is_refused(make_client):
    client = make_client()
    token = client.csrf_token()
    client.reset()
    response = client.post_json('/api/login', {'username': 'frodo', 'password': PASSWORD},
                                headers={'X-CSRF-Token': token}, expect_errors=True)
    assert_error(response, 403, 'bad_csrf')


def test_logged_in_unsafe_request_without_token_is_refused(testapp):
    testapp.register()
    response = testapp.patch_json('/api/session/data', {'name': 'Mallory'}, expect_errors=True)
    assert_error(response, 403, 'bad_csrf')
    assert testapp.get('/api/session/data').json == {'data': {}}


def test_form_without_token_is_a_403_page(testapp):
    response = testapp.post('/login', {'username': 'frodo', 'password': PASSWORD},
                            expect_errors=True)
    assert response.status_int == 403
    assert response.content_type == 'text/html'


# Endpoints -------------------------------------------------------------------

def test_healthz(testapp, store):
    response = testapp.get('/healthz', status=200)
    assert response.json == {'status': 'ok', 'store': testapp.app.registry.session_backend.name}
    assert not session_set_cookies(response)


def test_register_logs_the_new_user_in(testapp):
    response = testapp.register('frodo')
    assert response.json['user']['username'] == 'frodo'
    assert isinstance(response.json['user']['id'], int)
    assert session_set_cookies(response)
    assert testapp.get('/api/me').json['user'] == response.json['user']


@pytest.mark.parametrize('username', [
    'ab', 'x' * 65, 'with space', 'tab\there', 'ümlaut', 'semi;colon', 'new\nline', '',
    42, None, ['frodo'],
])
def test_register_rejects_bad_usernames(testapp, username):
    response = testapp.api('POST', '/api/register', {'username': username, 'password': PASSWORD})
    assert_error(response, 400, 'invalid_input')


@pytest.mark.parametrize('username', ['abc', 'x' * 64, 'a.b_c-d@e', 'ABC123'])
def test_register_accepts_good_usernames(testapp, username):
    assert testapp.register(username).json['user']['username'] == username


@pytest.mark.parametrize('password', ['short77', 'x' * 1025, 12345678, None, ''])
def test_register_rejects_bad_passwords(testapp, password):
    response = testapp.api('POST', '/api/register', {'username': 'frodo', 'password': password})
    assert_error(response, 400, 'invalid_input')


@pytest.mark.parametrize('field', ['username', 'password'])
def test_missing_fields_are_invalid_input_on_register_and_login(testapp, field):
    body = {'username': 'frodo', 'password': PASSWORD}
    del body[field]
    assert_error(testapp.api('POST', '/api/register', body), 400, 'invalid_input')
    assert_error(testapp.api('POST', '/api/login', body), 400, 'invalid_input')
    assert_error(testapp.api('POST', '/api/login', {'username': 7, 'password': PASSWORD}),
                 400, 'invalid_input')


def test_password_length_counts_code_points(testapp, make_client):
    # Eight characters, 32 bytes: valid. 1024 four-byte characters: valid.
    testapp.register('emoji', '\U0001F600' * 8)
    make_client().register('long', '\U0001F600' * 1024)
    make_client().login('long', '\U0001F600' * 1024)


def test_every_password_character_counts(testapp, make_client):
    password = 'a' * 100 + 'END'
    testapp.register('frodo', password)
    other = make_client()
    assert_error(other.login('frodo', 'a' * 100 + 'end', status=None), 401, 'invalid_credentials')
    assert_error(other.login('frodo', 'a' * 72, status=None), 401, 'invalid_credentials')
    other.login('frodo', password)


def test_username_is_compared_exactly(testapp, make_client):
    testapp.register('frodo')
    make_client().register('Frodo')    # a different user
    assert_error(make_client().login('FRODO', PASSWORD, status=None), 401, 'invalid_credentials')


def test_taken_username_is_409(testapp, make_client):
    testapp.register('frodo')
    assert_error(make_client().register('frodo', status=None), 409, 'conflict')


def test_unknown_user_and_wrong_password_look_the_same(testapp, make_client, monkeypatch):
    import bcrypt
    calls = []
    real = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, 'checkpw', lambda *a: calls.append(1) or real(*a))
    testapp.register('frodo')
    client = make_client()
    wrong = client.login('frodo', 'not the password', status=None)
    checks_for_wrong = len(calls)
    unknown = client.login('nobody', 'not the password', status=None)
    assert_error(wrong, 401, 'invalid_credentials')
    assert_error(unknown, 401, 'invalid_credentials')
    assert wrong.json == unknown.json
    # An unknown user still costs one bcrypt verification (against a dummy hash).
    assert checks_for_wrong == 1 and len(calls) == 2


def test_failed_login_creates_no_session(testapp):
    response = testapp.login('nobody', PASSWORD, status=401)
    assert not session_set_cookies(response)
    assert record_count(testapp.app) in (None, 0)


def test_login_always_issues_a_new_session_id(testapp, make_client):
    testapp.register('frodo')
    first = testapp.session_cookie()
    testapp.login('frodo')
    second = testapp.session_cookie()
    assert first and second and first != second
    assert testapp.get('/api/me').json['user']['username'] == 'frodo'


def test_login_destroys_the_session_the_cookie_named(testapp, make_client, store):
    make_client().register('sam')
    testapp.register('frodo')
    before_login = testapp.session_cookie()
    records = record_count(testapp.app)
    testapp.login('sam')
    replay = make_client()
    replay.set_cookie('sid', before_login)
    # Deleted from a server-side store; on the cookie store's deny list.
    assert_error(replay.get('/api/me', expect_errors=True), 401, 'unauthenticated')
    if is_server_side(store):
        assert record_count(testapp.app) == records


def test_login_keeps_other_clients_sessions(testapp, make_client):
    testapp.register('frodo')
    laptop = make_client()
    laptop.login('frodo')
    testapp.login('frodo')
    assert laptop.get('/api/me').json['user']['username'] == 'frodo'


def test_logout_destroys_the_session_and_expires_the_cookie(testapp, make_client, store):
    testapp.register('frodo')
    copy = testapp.session_cookie()
    response = testapp.logout()
    assert response.json == {'message': 'logged out'}
    (set_cookie,) = session_set_cookies(response)
    assert 'Max-Age=0' in set_cookie
    assert testapp.session_cookie() is None
    assert_error(testapp.get('/api/me', expect_errors=True), 401, 'unauthenticated')
    if is_server_side(store):
        assert record_count(testapp.app) == 0
    # A copy of the cookie stops working at once, on every store: the cookie
    # store lists the logged-out session on its deny list.
    replay = make_client()
    replay.set_cookie('sid', copy)
    assert_error(replay.get('/api/me', expect_errors=True), 401, 'unauthenticated')


def test_logout_is_idempotent(testapp):
    testapp.register('frodo')
    testapp.logout()
    assert testapp.logout().json == {'message': 'logged out'}
    anonymous = testapp.logout()
    assert not session_set_cookies(anonymous)


def test_me_reports_the_session(testapp, clock, store):
    start = clock()
    testapp.register('frodo')
    clock.advance(100)
    me = testapp.get('/api/me').json
    assert me['user']['username'] == 'frodo'
    assert me['session']['store'] == testapp.app.registry.session_backend.name
    created = datetime.fromisoformat(me['session']['created_at'])
    expires = datetime.fromisoformat(me['session']['expires_at'])
    assert created.utcoffset() is not None and expires.utcoffset() is not None
    assert created.timestamp() == start
    # Used 100 s after login, past the 60 s touch interval: the idle expiry slid.
    assert expires.timestamp() == start + 100 + 1800


def test_me_expiry_is_the_earlier_of_idle_and_absolute(app_settings, make_app_client, clock):
    app_settings['session.absolute_timeout'] = '2000'
    client = make_app_client(app_settings)
    start = clock()
    client.register('frodo')
    clock.advance(1000)
    expires = datetime.fromisoformat(client.get('/api/me').json['session']['expires_at'])
    assert expires.timestamp() == start + 2000


def test_users_lists_every_user(testapp, make_client):
    testapp.register('frodo')
    make_client().register('sam')
    users = testapp.get('/api/users').json['users']
    assert [u['username'] for u in users] == ['frodo', 'sam']
    assert all(set(u) == {'id', 'username'} for u in users)


def test_session_data_merges_and_removes(testapp):
    testapp.register('frodo')
    assert testapp.get('/api/session/data').json == {'data': {}}
    patch = testapp.api('PATCH', '/api/session/data', {'name': 'Frodo', 'ring': {'bearer': 1}},
                        status=200)
    assert patch.json == {'data': {'name': 'Frodo', 'ring': {'bearer': 1}}}
    patch = testapp.api('PATCH', '/api/session/data', {'ring': None, 'home': 'Shire'}, status=200)
    assert patch.json == {'data': {'name': 'Frodo', 'home': 'Shire'}}
    assert testapp.get('/api/session/data').json == {'data': {'name': 'Frodo', 'home': 'Shire'}}


def test_greet_uses_name_from_session_data(testapp):
    testapp.register('frodo')
    assert testapp.get('/api/greet').json == {'message': 'hello frodo'}
    testapp.api('PATCH', '/api/session/data', {'name': 'Frodo'}, status=200)
    assert testapp.get('/api/greet').json == {'message': 'hello Frodo'}


def test_session_too_large_is_413_and_keeps_the_session(testapp, store):
    testapp.register('frodo')
    testapp.api('PATCH', '/api/session/data', {'name': 'Frodo'}, status=200)
    cookie = testapp.session_cookie()
    # Under the body limit, over every store's session limit (4 KB cookie, 64 KB).
    response = testapp.api('PATCH', '/api/session/data', {'blob': 'x' * 100_000})
    assert_error(response, 413, 'session_too_large')
    assert not session_set_cookies(response)
    assert testapp.session_cookie() == cookie
    assert testapp.get('/api/session/data').json == {'data': {'name': 'Frodo'}}


def test_cookie_store_limit_is_the_browsers_4096_bytes(testapp, store):
    testapp.register('frodo')
    size = 2500 if store.startswith('cookie') else 60000
    ok = testapp.api('PATCH', '/api/session/data', {'blob': 'x' * size}, status=200)
    if store.startswith('cookie'):
        (set_cookie,) = session_set_cookies(ok)
        assert len(set_cookie) <= 4096
        too_big = testapp.api('PATCH', '/api/session/data', {'blob': 'x' * 4000})
        assert_error(too_big, 413, 'session_too_large')


# Pages -------------------------------------------------------------------------

def form_token(page):
    return page.html.find('input', {'name': 'csrf_token'})['value']


def test_pages_register_greet_and_logout(testapp):
    page = testapp.get('/register?next=/', status=200)
    response = testapp.post('/register', {'username': 'frodo', 'password': PASSWORD,
                                          'csrf_token': form_token(page), 'next': '/'},
                            status=303)
    assert response.location.endswith('/')
    home = testapp.get('/', status=200)
    assert 'frodo' in home.html.find(id='greeting').text
    response = testapp.post('/logout', {'csrf_token': form_token(home)}, status=303)
    assert response.location.endswith('/login')
    testapp.get('/', status=303)


def test_login_page_follows_local_next_only(testapp, make_client):
    make_client().register('frodo')
    for target, expected in [('/api/me', '/api/me'), ('//evil.example/x', '/'),
                             ('https://evil.example/', '/'), ('/\\evil.example', '/'),
                             ('javascript:alert(1)', '/')]:
        testapp.reset()
        page = testapp.get('/login', {'next': target}, status=200)
        response = testapp.post('/login', {'username': 'frodo', 'password': PASSWORD,
                                           'csrf_token': form_token(page), 'next': target},
                                status=303)
        assert response.location in (expected, 'http://localhost' + expected), target


def test_failed_login_page_rerenders_with_401(testapp):
    page = testapp.get('/login', status=200)
    response = testapp.post('/login', {'username': 'nobody', 'password': PASSWORD,
                                       'csrf_token': form_token(page)}, status=401)
    assert response.html.find(role='alert') is not None
    assert not session_set_cookies(response)


@pytest.mark.parametrize('username, status', [('x', 400), ('frodo', 409)])
def test_failed_registration_page(testapp, make_client, username, status):
    make_client().register('frodo')
    page = testapp.get('/register', status=200)
    response = testapp.post('/register', {'username': username, 'password': PASSWORD,
                                          'csrf_token': form_token(page)}, status=status)
    assert response.html.find(role='alert') is not None


# The session cookie ------------------------------------------------------------

def test_session_cookie_flags(testapp):
    (set_cookie,) = session_set_cookies(testapp.register())
    attributes = [a.strip().lower() for a in set_cookie.split(';')]
    assert 'httponly' in attributes
    assert 'samesite=lax' in attributes
    assert 'path=/' in attributes
    assert 'secure' not in attributes
    assert 'max-age=86400' in attributes   # the absolute lifetime


def test_secure_flag_follows_the_setting(app_settings, make_app_client):
    app_settings['session.cookie_secure'] = 'true'
    client = make_app_client(app_settings)
    client.extra_environ['wsgi.url_scheme'] = 'https'
    response = client.api('POST', '/api/register', {'username': 'frodo', 'password': PASSWORD},
                          headers={'Origin': 'https://localhost'}, status=201)
    (set_cookie,) = session_set_cookies(response)
    assert 'secure' in [a.strip().lower() for a in set_cookie.split(';')]


def test_cookie_name_is_a_setting(app_settings, make_app_client):
    app_settings['session.cookie_name'] = 'ticket'
    client = make_app_client(app_settings)
    response = client.register()
    assert session_set_cookies(response, 'ticket') and not session_set_cookies(response)
    client.get('/api/me', status=200)


def test_server_side_cookie_holds_only_a_128_bit_id(testapp, store):
    testapp.register()
    value = testapp.session_cookie()
    if is_server_side(store):
        sid, signature = value.split('.')
        assert len(base64.urlsafe_b64decode(sid + '==')) >= 16
        assert 'frodo' not in value
    elif 'encrypted' in store:
        assert b'frodo' not in base64.urlsafe_b64decode(value + '=' * (-len(value) % 4))


@pytest.mark.parametrize('path', ['/healthz', '/api/csrf', '/login', '/register', '/api/me', '/'])
def test_anonymous_requests_create_no_session(testapp, path):
    response = testapp.get(path, expect_errors=True)
    assert not session_set_cookies(response)
    assert record_count(testapp.app) in (None, 0)


def test_reads_send_no_set_cookie_inside_the_touch_window(testapp, clock, store):
    testapp.register()
    clock.advance(10)
    for _ in range(3):
        assert not session_set_cookies(testapp.get('/api/me'))
    clock.advance(60)
    touched = testapp.get('/api/me')
    # Server-side stores slide the idle expiry on the server; the cookie store
    # must re-issue its cookie, but only once per touch interval.
    assert bool(session_set_cookies(touched)) == (not is_server_side(store))
    assert not session_set_cookies(testapp.get('/api/me'))


def test_idle_timeout_logs_out(testapp, clock):
    testapp.register()
    clock.advance(1799)
    testapp.get('/api/me', status=200)
    clock.advance(1800)
    assert_error(testapp.get('/api/me', expect_errors=True), 401, 'unauthenticated')


def test_use_slides_the_idle_expiry(testapp, clock):
    testapp.register()
    for _ in range(6):
        clock.advance(1000)
        testapp.get('/api/me', status=200)


def test_absolute_timeout_logs_out_despite_use(testapp, clock):
    testapp.register()
    for _ in range(86):
        clock.advance(1000)
        testapp.get('/api/me', status=200)
    clock.advance(400)
    assert_error(testapp.get('/api/me', expect_errors=True), 401, 'unauthenticated')


def test_expired_session_is_anonymous_even_if_the_cookie_is_kept(testapp, make_client, clock):
    testapp.register()
    cookie = testapp.session_cookie()
    clock.advance(1801)
    replay = make_client()
    replay.set_cookie('sid', cookie)
    assert_error(replay.get('/api/me', expect_errors=True), 401, 'unauthenticated')


def _tampered(value):
    flipped = 'A' if value[5] != 'A' else 'B'
    return value[:5] + flipped + value[6:]


@pytest.mark.parametrize('mangle', [
    _tampered, lambda v: v[:len(v) // 2], lambda v: v + 'x', lambda v: 'garbage',
    lambda v: '', lambda v: v.split('.')[0] if '.' in v else v[:-1], lambda v: '\u00e9\u00e9', lambda v: '.' * 40,
    lambda v: base64.urlsafe_b64encode(b'{"d":{"auth.userid":1}}').decode(),
], ids=['tampered', 'truncated', 'extended', 'garbage', 'empty', 'unsigned', 'latin1',
        'dots', 'forged-json'])
def test_bad_cookies_make_the_client_anonymous(testapp, make_client, mangle):
    testapp.register()
    client = make_client()
    client.set_cookie('sid', mangle(testapp.session_cookie()))
    assert_error(client.get('/api/me', expect_errors=True), 401, 'unauthenticated')
    assert client.get('/', expect_errors=True).status_int == 303
    assert client.get('/healthz').status_int == 200


def test_cookie_of_another_store_is_anonymous(app_settings, make_app_client, store):
    other = dict(app_settings, **{'session.store': 'memory' if store != 'memory' else 'cookie'})
    other.pop('session.cookie.encrypt', None)
    foreign = make_app_client(other)
    foreign.register('frodo')
    client = make_app_client(app_settings)
    client.set_cookie('sid', foreign.session_cookie())
    assert_error(client.get('/api/me', expect_errors=True), 401, 'unauthenticated')


def test_older_signing_key_is_accepted_and_reissued(app_settings, make_app_client, store):
    old = dict(app_settings, **{'session.secrets': OLD_SECRET})
    old_client = make_app_client(old)
    old_client.register('frodo')
    cookie = old_client.session_cookie()
    rotated = make_app_client(dict(app_settings, **{'session.secrets': f'{SECRET} {OLD_SECRET}'}),
                              share_store_with=old_client)
    rotated.set_cookie('sid', cookie)
    response = rotated.get('/api/me', status=200)
    (reissued,) = session_set_cookies(response)
    new_value = rotated.session_cookie()
    assert new_value != cookie
    # Signed with the new key now: an app that knows only the new key accepts it.
    only_new = make_app_client(dict(app_settings, **{'session.secrets': SECRET}),
                               share_store_with=old_client)
    only_new.set_cookie('sid', new_value)
    only_new.get('/api/me', status=200)
    stale = make_app_client(dict(app_settings, **{'session.secrets': SECRET}),
                            share_store_with=old_client)
    stale.set_cookie('sid', cookie)
    assert_error(stale.get('/api/me', expect_errors=True), 401, 'unauthenticated')


def test_a_reissued_cookie_keeps_what_is_left_of_its_lifetime(app_settings, make_app_client,
                                                              clock):
    """Max-Age is the absolute timeout counted from the login, never a fresh
    one: a cookie re-signed under a new key (or, on the cookie store, slid)
    1000 s after the login lives 85400 s more, not 86400."""
    old_client = make_app_client(dict(app_settings, **{'session.secrets': OLD_SECRET}))
    old_client.register('frodo')
    clock.advance(1000)
    rotated = make_app_client(dict(app_settings, **{'session.secrets': f'{SECRET} {OLD_SECRET}'}),
                              share_store_with=old_client)
    rotated.set_cookie('sid', old_client.session_cookie())
    (reissued,) = session_set_cookies(rotated.get('/api/me', status=200))
    assert re.search(r'Max-Age=(\d+)', reissued).group(1) == '85400', reissued


def test_login_page_gives_one_answer_for_bad_input_too(testapp):
    page = testapp.get('/login', status=200)
    response = testapp.post('/login', {'username': 'x', 'password': 'short',
                                       'csrf_token': form_token(page)}, status=401)
    assert 'Unknown username or wrong password.' in response.html.find(role='alert').text
