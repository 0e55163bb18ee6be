"""Pages a person reads at a glance: the sessions page (browser and system
from the User-Agent, "3 minutes ago" with the exact UTC time on hover, a
revoke button per other session, a confirmation after each action) and the
login page's explanation of a 429."""
import pytest

from sessiondemo import readable
from sessiondemo.sessions.record import store_key
from sessiondemo.views import iso

from .helpers import PASSWORD, is_server_side, session_set_cookies

FIREFOX = 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
CHROME = ('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) '
          'Chrome/120.0.0.0 Safari/537.36')


def test_durations_and_relative_times():
    assert readable.duration(0) == '0 seconds'
    assert readable.duration(1) == '1 second'
    assert readable.duration(61) == '1 minute'
    assert readable.duration(899) == '14 minutes'
    assert readable.duration(7200) == '2 hours'
    assert readable.duration(86400 * 3 + 5) == '3 days'
    assert readable.relative(1000, 1002) == 'just now'
    assert readable.relative(1000, 1180) == '3 minutes ago'
    assert readable.relative(2800, 1000) == 'in 30 minutes'
    assert readable.utc_text(0) == '1970-01-01 00:00:00 UTC'


def test_user_agents_read_as_browser_and_system():
    assert readable.browser_and_system(FIREFOX) == ('Firefox 128.0', 'Ubuntu')
    assert readable.browser_and_system(CHROME) == ('Chrome 120.0', 'Windows 10')
    assert readable.browser_and_system('') == ('Unknown browser', 'unknown system')
    assert readable.browser_and_system('Other Browser/1.0')[1] == 'unknown system'


def logged_in(make_client, user_agent, register=False):
    client = make_client()
    client.extra_environ['HTTP_USER_AGENT'] = user_agent
    if register:
        client.register('frodo')
    else:
        client.login('frodo')
    return client


def form_token(page):
    return page.html.find('input', {'name': 'csrf_token'})['value']


def test_sessions_page_reads_at_a_glance(store, make_client, clock):
    me = logged_in(make_client, FIREFOX, register=True)
    clock.advance(180)
    other = logged_in(make_client, CHROME)
    page = me.get('/sessions', status=200)
    rows = page.html.select('#sessions tbody tr')
    if not is_server_side(store):
        assert len(rows) == 1           # the cookie store shows only this session
        assert 'Firefox 128.0 on Ubuntu' in rows[0].text
        return
    assert len(rows) == 2
    newest, mine = rows                 # newest first
    assert 'Chrome 120.0 on Windows 10' in newest.select_one('.browser').text
    assert 'Firefox 128.0 on Ubuntu' in mine.select_one('.browser').text
    started = mine.select('time')[0]
    created = other.app.registry.session_backend.clock() - 180
    assert started['datetime'] == iso(created)
    assert started['title'] == readable.utc_text(created)
    assert started.text == '3 minutes ago'
    assert newest.select_one('time').text == 'just now'
    # A revoke button on every other session, none on this one.
    assert newest.select('button.revoke') and not mine.select('button.revoke')
    assert 'current' in mine['class']


def test_viewing_the_sessions_page_writes_nothing(store, make_client, clock):
    """No notice to show, nothing to write: popping an empty flash queue
    would mark the session changed."""
    me = logged_in(make_client, FIREFOX, register=True)
    clock.advance(10)           # a write would move touched; no slide is due yet
    backend = me.app.registry.session_backend
    key = store_key(me.session_cookie().split('.')[0])
    before = backend.store.load(key).source if is_server_side(store) else None
    response = me.get('/sessions', status=200)
    assert session_set_cookies(response) == []
    if is_server_side(store):
        assert backend.store.load(key).source == before


def test_revoking_one_other_session_says_so(store, make_client):
    me = logged_in(make_client, FIREFOX, register=True)
    other = logged_in(make_client, CHROME)
    page = me.get('/sessions')
    if not is_server_side(store):
        # The cookie store lists no other session, so none has a button.
        assert not page.html.select('button.revoke')
        return
    handle = page.html.select_one('button.revoke').find_parent('tr')['data-handle']
    done = me.post(f'/sessions/{handle}/revoke', {'csrf_token': form_token(page)}, status=303)
    assert done.headers['Location'].endswith('/sessions')
    shown = done.follow()
    assert shown.html.select_one('[role=status]').text == 'Session ended.'
    assert len(shown.html.select('#sessions tbody tr')) == 1
    # Said once: the next visit shows no notice (and the queue is gone).
    assert not me.get('/sessions').html.select('[role=status]')
    other.get('/api/me', status=401)


@pytest.mark.parametrize('others', [1, 2])
def test_logging_out_everywhere_else_counts_the_sessions(store, make_client, others):
    me = logged_in(make_client, FIREFOX, register=True)
    rest = [logged_in(make_client, CHROME) for _ in range(others)]
    page = me.get('/sessions')
    done = me.post('/sessions/revoke-others', {'csrf_token': form_token(page)}, status=303)
    notice = done.follow().html.select_one('[role=status]').text
    if is_server_side(store):
        assert notice == {1: '1 other session ended.', 2: '2 other sessions ended.'}[others]
    else:
        assert notice == 'Every other session of yours ended.'
    for client in rest:
        client.get('/api/me', status=401)
    me.get('/api/me', status=200)


def test_revoking_this_session_from_its_own_form_logs_out(store, make_client):
    me = logged_in(make_client, FIREFOX, register=True)
    page = me.get('/sessions')
    handle = page.html.select_one('tr.current')['data-handle']
    done = me.post(f'/sessions/{handle}/revoke', {'csrf_token': form_token(page)}, status=303)
    assert done.headers['Location'].endswith('/login')
    me.get('/api/me', status=401)


def test_login_page_explains_a_429_with_the_time_to_wait(testapp, make_client, clock):
    make_client().register('frodo')
    for _ in range(5):
        testapp.login('frodo', 'wrong password', status=401)
    clock.advance(60)
    page = testapp.get('/login')
    response = testapp.post('/login', {'username': 'frodo', 'password': PASSWORD,
                                       'csrf_token': form_token(page)}, status=429)
    assert response.headers['Retry-After'] == '840'
    alert = response.html.find(role='alert').text
    assert 'Too many attempts' in alert
    assert 'Please wait 14 minutes before trying again' in alert
    assert 'password guessing' in alert


def test_a_wrong_password_has_no_time_to_wait(testapp, make_client):
    make_client().register('frodo')
    page = testapp.get('/login')
    response = testapp.post('/login', {'username': 'frodo', 'password': 'wrong password',
                                       'csrf_token': form_token(page)}, status=401)
    assert response.html.find(role='alert').text.strip() == 'Unknown username or wrong password.'
