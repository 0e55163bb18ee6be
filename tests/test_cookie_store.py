"""The cookie store's own rules: JSON inside, signed or encrypted, nothing on the server."""
import base64
import json

import pytest

from sessiondemo.sessions.cookie import CookieBackend
from sessiondemo.config import CookieSettings, Timeouts
from sessiondemo.sessions.cookies import SessionCookie
from sessiondemo.sessions.record import Record

from .helpers import OLD_SECRET, SECRET


@pytest.fixture
def store():
    return 'cookie'


def b64(text):
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


def test_signed_cookie_is_json_not_pickle(testapp):
    testapp.register('frodo')
    payload, signature = testapp.session_cookie().split('.')
    session = json.loads(b64(payload))
    assert session['d']['auth.userid'] == 1
    assert 'c' in session and 't' in session      # timeouts live inside the signature


def test_encrypted_cookie_hides_its_content(app_settings, make_app_client):
    app_settings['session.cookie.encrypt'] = 'true'
    client = make_app_client(app_settings)
    client.register('frodo')
    client.api('PATCH', '/api/session/data', {'name': 'Frodo Baggins'}, status=200)
    raw = b64(client.session_cookie())
    assert b'Frodo' not in raw and b'auth' not in raw
    assert client.get('/api/greet').json == {'message': 'hello Frodo Baggins'}


def test_a_cookie_signed_with_another_secret_is_anonymous(app_settings, make_app_client):
    mine = make_app_client(app_settings)
    theirs = make_app_client(dict(app_settings, **{'session.secrets': OLD_SECRET}))
    theirs.register('frodo')
    mine.set_cookie('sid', theirs.session_cookie())
    mine.get('/api/me', status=401)


def test_forging_requires_the_key():
    """With the key, anyone can mint a session for any user (benchmark row 9)."""
    timeouts, cookie = Timeouts(), SessionCookie(CookieSettings())
    now = 1_000_000.0
    forged = Record(data={'auth.userid': 2}, created=now, touched=now, user_id=2)
    with_key = CookieBackend([SECRET], timeouts, cookie, clock=lambda: now)
    without_key = CookieBackend([OLD_SECRET], timeouts, cookie, clock=lambda: now)
    assert with_key.decode(without_key.encode('x', forged)) is None
    assert with_key.decode(with_key.encode('x', forged))[1].data == {'auth.userid': 2}


def test_signed_and_encrypted_cookies_do_not_mix():
    timeouts, cookie = Timeouts(), SessionCookie(CookieSettings())
    record = Record(data={'a': 1}, created=1.0, touched=1.0)
    signed = CookieBackend([SECRET], timeouts, cookie)
    sealed = CookieBackend([SECRET], timeouts, cookie, encrypt=True)
    assert sealed.decode(signed.encode('x', record)) is None
    assert signed.decode(sealed.encode('x', record)) is None


def test_a_cookie_from_the_future_is_refused(app_settings, make_app_client, clock):
    client = make_app_client(app_settings)
    clock.advance(10_000)
    client.register('frodo')
    cookie = client.session_cookie()
    clock.advance(-10_000)
    replay = make_app_client(app_settings)
    replay.set_cookie('sid', cookie)
    replay.get('/api/me', status=401)


def test_the_largest_accepted_cookie_fits_a_browser(testapp):
    """At the edge: the biggest session accepted sends a Set-Cookie of at most
    4096 bytes, attributes (Expires, Max-Age, Path...) included; one more
    character is refused with 413 and the old cookie kept."""
    testapp.register('frodo')

    def accepted(size):
        response = testapp.api('PATCH', '/api/session/data', {'blob': 'x' * size})
        return response if response.status_int == 200 else None

    low, high = 0, 4096
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if accepted(middle) else (low, middle)
    (set_cookie,) = [h for h in accepted(low).headers.getall('Set-Cookie')
                     if h.startswith('sid=')]
    assert 4000 < len(set_cookie.encode()) <= 4096
    before = testapp.session_cookie()
    response = testapp.api('PATCH', '/api/session/data', {'blob': 'x' * (low + 1)})
    assert response.status_int == 413 and testapp.session_cookie() == before
