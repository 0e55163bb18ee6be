"""CSRF tokens the server issued, bound to the client (http-api.md, "CSRF"), on every store.

A token is an HMAC under the app's secrets of the client's session id, or of a
pre-login nonce in a cookie of its own: a pair a client made up, another
client's token, and a token from before a login or a logout are all 403.
"""
import json
import re

from .helpers import OLD_SECRET, PASSWORD, SECRET, assert_error, session_set_cookies

LOGIN = {'username': 'frodo', 'password': PASSWORD}


def login_with(client, token):
    return client.post_json('/api/login', LOGIN, headers={'X-CSRF-Token': token},
                            expect_errors=True)


def test_a_made_up_token_and_cookie_pair_is_refused(testapp, make_client):
    testapp.register('frodo')
    forger = make_client()
    forger.set_cookie('csrf', 'x')
    assert_error(login_with(forger, 'x'), 403, 'bad_csrf')
    forger.set_cookie('csrf_token', 'x')            # the old double-submit cookie
    assert_error(login_with(forger, 'x'), 403, 'bad_csrf')
    testapp.set_cookie('csrf', 'x')
    response = testapp.patch_json('/api/session/data', {'k': 1}, expect_errors=True,
                                  headers={'X-CSRF-Token': 'x'})
    assert_error(response, 403, 'bad_csrf')


def test_a_token_works_for_its_own_client_only(testapp, make_client):
    make_client().register('frodo')
    make_client().register('sam')
    frodo, sam = make_client(), make_client()
    frodo.login('frodo')
    sam.login('sam')
    sams_token = sam.csrf_token()
    response = frodo.patch_json('/api/session/data', {'k': 1}, expect_errors=True,
                                headers={'X-CSRF-Token': sams_token})
    assert_error(response, 403, 'bad_csrf')
    # A pre-login pair of another client is no good to a logged-in one either.
    mallory = make_client()
    token = mallory.csrf_token()
    frodo.set_cookie('csrf', mallory.cookies['csrf'])
    response = frodo.patch_json('/api/session/data', {'k': 1}, expect_errors=True,
                                headers={'X-CSRF-Token': token})
    assert_error(response, 403, 'bad_csrf')
    assert frodo.api('GET', '/api/session/data').json == {'data': {}}


def test_a_token_from_before_login_stops_working_after_it(testapp):
    testapp.register('frodo')
    testapp.logout()
    before = testapp.csrf_token()
    assert login_with(testapp, before).status_int == 200
    response = testapp.patch_json('/api/session/data', {'k': 1}, expect_errors=True,
                                  headers={'X-CSRF-Token': before})
    assert_error(response, 403, 'bad_csrf')
    testapp.api('PATCH', '/api/session/data', {'k': 1}, status=200)    # a fresh one works


def test_a_token_from_before_logout_stops_working_after_it(testapp):
    testapp.logout()                                  # anonymous: a nonce-bound token
    pre_login = testapp.csrf_token()
    testapp.register('frodo')
    logged_in = testapp.csrf_token()
    assert testapp.post_json('/api/logout', {}, headers={'X-CSRF-Token': logged_in},
                             status=200)
    for stale in (logged_in, pre_login):
        assert_error(login_with(testapp, stale), 403, 'bad_csrf')
    assert login_with(testapp, testapp.csrf_token()).status_int == 200


def test_tokens_signed_with_an_older_secret_still_verify(app_settings, make_app_client):
    old = make_app_client(dict(app_settings, **{'session.secrets': OLD_SECRET}))
    old.register('frodo')
    old.logout()
    token, nonce = old.csrf_token(), old.cookies['csrf']
    rotated = make_app_client(dict(app_settings, **{'session.secrets':
                                                    f'{SECRET} {OLD_SECRET}'}))
    rotated.set_cookie('csrf', nonce)
    assert login_with(rotated, token).status_int == 200
    retired = make_app_client(dict(app_settings, **{'session.secrets': SECRET}))
    retired.set_cookie('csrf', nonce)
    assert_error(login_with(retired, token), 403, 'bad_csrf')


def csrf_set_cookie(response, name='csrf'):
    headers = [h for h in response.headers.getall('Set-Cookie') if h.startswith(name + '=')]
    assert len(headers) == 1, response.headers
    return headers[0]


def test_the_nonce_cookie_and_no_session(testapp):
    response = testapp.get('/api/csrf', status=200)
    header = csrf_set_cookie(response)
    assert re.search(r'; HttpOnly', header, re.I) and re.search(r'; SameSite=Lax', header, re.I)
    assert re.search(r'; Path=/', header) and not re.search(r'; secure', header, re.I)
    assert not session_set_cookies(response)
    # One nonce per client: asking again keeps it.
    assert not [h for h in testapp.get('/api/csrf').headers.getall('Set-Cookie')
                if h.startswith('csrf=')]


def test_the_nonce_cookie_is_secure_when_the_session_cookie_is(app_settings, make_app_client):
    client = make_app_client(dict(app_settings, **{'session.cookie_secure': 'true'}))
    assert re.search(r'; secure', csrf_set_cookie(client.get('/api/csrf')), re.I)


def test_a_host_prefixed_session_cookie_gets_a_host_prefixed_nonce(app_settings,
                                                                   make_app_client):
    client = make_app_client(dict(app_settings, **{'session.cookie_name': '__Host-sid',
                                                   'session.cookie_secure': 'true'}))
    header = csrf_set_cookie(client.get('/api/csrf'), '__Host-csrf')
    assert re.search(r'; secure', header, re.I) and 'Domain' not in header


def test_an_https_request_from_another_origin_is_403_bad_csrf(testapp):
    token = testapp.csrf_token()
    response = testapp.post_json('/api/login', LOGIN, expect_errors=True, headers={
        'X-CSRF-Token': token, 'Origin': 'https://evil.example'},
        extra_environ={'wsgi.url_scheme': 'https', 'HTTP_HOST': 'localhost'})
    assert_error(response, 403, 'bad_csrf')


def test_the_session_cookie_is_checked_once_a_request(testapp):
    """A logout (public: its CSRF check, bound to the cookie's session id,
    comes before anything loads the session) and a write (the permission
    check loads it first) both need the cookie twice: its signature is
    checked, and on the cookie store the whole cookie opened, once."""
    testapp.register('frodo')
    backend = testapp.app.registry.session_backend
    owner, name = (backend, 'decode') if backend.name == 'cookie' else (backend.signer, 'unsign')
    real, opened = getattr(owner, name), []

    def counted(value):
        opened.append(value)
        return real(value)
    for method, path, body in [('PATCH', '/api/session/data', {'name': 'Frodo'}),
                               ('POST', '/api/logout', {})]:
        token = testapp.csrf_token()
        setattr(owner, name, counted)
        testapp.request(path, method=method, body=json.dumps(body).encode(), status=200,
                        content_type='application/json', headers={'X-CSRF-Token': token})
        setattr(owner, name, real)
        assert len(opened) == 1, (method, path)
        opened.clear()
