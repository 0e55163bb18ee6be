"""Inside one's session (GET /api/session, GET /session), on every store.

What the JSON says is checked against the store's own record (loaded from the
store by its key, or for the cookie store decoded from the cookie by the
backend); the id and the cookie value never show; and viewing costs no store
write and no Set-Cookie, even when the idle expiry is due to slide.
Responses are validated against openapi.yaml.
"""
import re
from datetime import datetime

import pytest

from sessiondemo.sessions.record import handle_of, store_key
from sessiondemo.views import iso

from .helpers import assert_error, is_server_side, session_set_cookies


@pytest.fixture
def app_settings(app_settings):
    """Every response checked against the OpenAPI document."""
    return dict(app_settings, **{'openapi.validate_responses': 'true'})


def stored(testapp):
    """(session id, the record as the store keeps it) for the client's cookie."""
    backend = testapp.app.registry.session_backend
    cookie = testapp.session_cookie()
    if backend.name == 'cookie':
        sid, record, _ = backend.decode(cookie)
        return sid, record
    sid = cookie.split('.')[0]
    return sid, backend.store.load(store_key(sid))


def round_trips_in_header(response):
    """Round trips of the whole request, save included (Server-Timing)."""
    return int(re.search(r'desc="(\d+) round trips?"', response.headers['Server-Timing'])[1])


def assert_no_secret(body, testapp, sid):
    """Neither the id, nor any 8 characters of the cookie value in a row."""
    cookie = testapp.session_cookie()
    assert sid not in body
    for start in range(len(cookie) - 7):
        assert cookie[start:start + 8] not in body, cookie[start:start + 8]


def test_the_json_is_the_stores_own_record(store, testapp, clock):
    testapp.register('frodo')
    testapp.api('PATCH', '/api/session/data', {'name': 'Frodo', 'ring': [1]}, status=200)
    clock.advance(20)
    body = testapp.get('/api/session', status=200).json
    sid, record = stored(testapp)
    backend = testapp.app.registry.session_backend
    timeouts = backend.timeouts
    assert body['store'] == backend.name

    inside = body['record']
    assert inside['created_at'] == iso(record.created)
    assert inside['touched_at'] == iso(record.touched)
    assert inside['user_id'] == record.user_id == 1
    assert inside['data'] == record.data
    assert inside['data']['data:name'] == 'Frodo' and inside['data']['auth.username'] == 'frodo'
    assert inside['handle'] == handle_of(store_key(sid))
    if is_server_side(store):
        assert inside['held_by'] == 'server'
        assert inside['key'] == store_key(sid)[:12] + '…'
        assert (inside['user_agent'], inside['ip']) == (record.user_agent, record.ip)
        assert inside['ip'] == '127.0.0.1'
        assert inside['bytes'] == len(record.source.encode('utf-8'))
        assert inside['max_bytes'] == backend.max_bytes
    else:
        assert inside['held_by'] == 'browser' and inside['key'] is None

    expiry = body['expiry']
    now = clock()
    assert expiry['idle_expires_at'] == iso(record.touched + timeouts.idle)
    assert expiry['absolute_expires_at'] == iso(record.created + timeouts.absolute)
    assert expiry['expires_at'] == iso(record.expires_at(timeouts))
    assert expiry['idle_seconds_left'] == int(record.touched + timeouts.idle - now)
    assert expiry['absolute_seconds_left'] == int(record.created + timeouts.absolute - now)
    assert expiry['last_slid_at'] == iso(record.touched)
    assert expiry['next_slide_at'] == iso(record.touched + timeouts.touch_interval)
    assert expiry['slide_due'] is False

    cookie = body['cookie']
    value = testapp.session_cookie()
    assert cookie['name'] == 'sid'
    flags = {flag['name']: flag['value'] for flag in cookie['flags']}
    assert flags == {'HttpOnly': True, 'SameSite': 'Lax', 'Secure': False, 'Path': '/',
                     'Max-Age': int(record.created + timeouts.absolute - now)}
    assert all(flag['protects'] for flag in cookie['flags'])
    assert cookie['sent_bytes'] == len('sid=' + value)
    assert cookie['bytes'] == len(backend.cookie.header(
        value, record.created + timeouts.absolute - now))
    assert cookie['browser_limit_bytes'] == 4096
    assert sum(part['bytes'] for part in cookie['parts']) + len(cookie['parts']) - 1 == len(value)
    assert cookie['session_id'] == sid[:4] + '…'
    assert [part['shown'] for part in cookie['parts']][0] == value[:4] + '…'

    steps = body['request']['steps']
    assert [step['step'] for step in steps] == list(range(1, 9))
    assert body['request']['writes'] is False and body['request']['set_cookie'] is False


def test_round_trips_are_this_requests_and_none_follow(store, testapp):
    testapp.register('frodo')
    response = testapp.get('/api/session', status=200)
    assert response.headers['Cache-Control'] == 'no-store'
    facts = response.json['request']
    # Nothing after the view reached a store: the whole request's count (the
    # header, written after the save) is what the view saw.
    assert round_trips_in_header(response) == facts['round_trips'] == len(facts['calls'])
    if store == 'memory':
        assert facts['round_trips'] == 0
    else:
        # A server-side load, or the cookie store's revocation lookup.
        assert facts['round_trips'] >= 1
        assert facts['store_ms'] == pytest.approx(sum(c['ms'] for c in facts['calls']), abs=0.01)


@pytest.mark.parametrize('path', ['/api/session', '/session'])
def test_viewing_writes_nothing_even_when_a_slide_is_due(store, testapp, clock, path):
    testapp.register('frodo')
    backend = testapp.app.registry.session_backend
    clock.advance(backend.timeouts.touch_interval + 5)      # any use would slide it now
    sid, before = stored(testapp)
    cookie_before = testapp.session_cookie()
    count_before = getattr(backend, 'store', None) and backend.store.count()

    for view in range(2):
        response = testapp.get(path, status=200)
        assert session_set_cookies(response) == []
        # The cookie store looks its revocation up once, then knows it.
        expected = 0 if store == 'memory' or (store.startswith('cookie') and view) else 1
        assert round_trips_in_header(response) == expected
    _, after = stored(testapp)
    assert testapp.session_cookie() == cookie_before
    assert after.touched == before.touched
    if is_server_side(store):
        assert after.source == before.source        # byte for byte: nothing written
        assert backend.store.count() == count_before
    if path == '/api/session':
        assert response.json['expiry']['slide_due'] is True
        assert response.json['record']['touched_at'] == iso(before.touched)

    # The same request anywhere else does slide it: the check above can fail.
    testapp.get('/api/me', status=200)
    _, slid = stored(testapp)
    assert slid.touched == clock()


@pytest.mark.parametrize('path', ['/api/session', '/session'])
def test_no_id_and_no_cookie_value_in_the_answer(store, testapp, path):
    testapp.register('frodo')
    response = testapp.get(path, status=200)
    sid, _ = stored(testapp)
    assert_no_secret(response.text, testapp, sid)


def test_the_page_shows_the_facts_for_a_person(store, testapp, clock):
    testapp.register('frodo')
    home = testapp.get('/', status=200)
    assert 'href="/session"' in home.text
    clock.advance(180)
    page = testapp.get('/session', status=200)
    sid, record = stored(testapp)
    text = page.text
    assert 'Inside your session' in text
    assert f'<strong id="store">{testapp.app.registry.session_backend.name}</strong>' in text
    assert f'<time datetime="{iso(record.created)}"' in text
    assert '3 minutes ago' in text
    assert 'your next request will slide it' in text
    if is_server_side(store):
        assert store_key(sid)[:12] + '…' in text
    else:
        assert 'your browser holds it' in text
    assert page.headers['Cache-Control'] == 'no-store'


def test_anonymous_visitors_are_kept_out(store, testapp):
    assert_error(testapp.get('/api/session', status=401), 401, 'unauthenticated')
    response = testapp.get('/session', status=303)
    assert response.headers['Location'].endswith('/login?next=/session')
    testapp.register('frodo')
    testapp.logout()
    assert_error(testapp.get('/api/session', status=401), 401, 'unauthenticated')


def test_times_are_iso_with_an_offset(store, testapp):
    testapp.register('frodo')
    body = testapp.get('/api/session', status=200).json
    for value in (body['record']['created_at'], body['expiry']['expires_at']):
        assert datetime.fromisoformat(value).utcoffset() is not None


def test_what_the_client_stored_is_escaped_on_the_page(testapp):
    testapp.register('frodo')
    testapp.api('PATCH', '/api/session/data', {'name': '<script>alert(1)</script>'}, status=200)
    page = testapp.get('/session', status=200)
    assert '<script>' not in page.text
    assert 'data:name' in page.text
