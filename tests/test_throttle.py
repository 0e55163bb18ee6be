"""Login throttling, counted wherever the configured store puts it."""
from .helpers import PASSWORD, assert_error


def fail(client, username='frodo', times=1):
    for _ in range(times):
        assert_error(client.login(username, 'wrong password', status=None), 401,
                     'invalid_credentials')


def test_429_after_max_failures_with_retry_after_then_lifts(testapp, make_client, clock):
    make_client().register('frodo')
    fail(testapp, times=5)
    clock.advance(100)
    blocked = testapp.login('frodo', PASSWORD, status=None)     # the right password too
    assert_error(blocked, 429, 'too_many_requests')
    assert int(blocked.headers['Retry-After']) == 800
    clock.advance(799)
    assert_error(testapp.login('frodo', PASSWORD, status=None), 429, 'too_many_requests')
    clock.advance(1)
    testapp.login('frodo', PASSWORD, status=200)


def test_success_resets_the_count(testapp, make_client):
    make_client().register('frodo')
    fail(testapp, times=4)
    testapp.login('frodo', PASSWORD, status=200)
    fail(testapp, times=4)
    testapp.login('frodo', PASSWORD, status=200)


def test_other_usernames_are_not_blocked(testapp, make_client):
    make_client().register('sam')
    fail(testapp, 'frodo', times=5)
    assert_error(testapp.login('frodo', PASSWORD, status=None), 429, 'too_many_requests')
    testapp.login('sam', PASSWORD, status=200)


def test_per_address_limit(app_settings, make_app_client):
    app_settings['auth.max_failures_per_address'] = '3'
    client = make_app_client(app_settings)
    client.register('frodo')
    for name in ('ann', 'bob', 'cat'):
        fail(client, name)
    assert_error(client.login('frodo', PASSWORD, status=None), 429, 'too_many_requests')
    elsewhere = make_app_client(app_settings, share_store_with=client)
    elsewhere.extra_environ['REMOTE_ADDR'] = '127.0.0.2'
    elsewhere.login('frodo', PASSWORD, status=200)


def test_per_address_limit_can_be_turned_off(app_settings, make_app_client):
    app_settings['auth.max_failures_per_address'] = '0'
    client = make_app_client(app_settings)
    client.register('frodo')
    for name in ('ann', 'bob', 'cat', 'dan', 'eve', 'fay'):
        fail(client, name, times=4)
    client.login('frodo', PASSWORD, status=200)


def test_login_page_shows_429(testapp, make_client):
    make_client().register('frodo')
    fail(testapp, times=5)
    page = testapp.get('/login')
    token = page.html.find('input', {'name': 'csrf_token'})['value']
    response = testapp.post('/login', {'username': 'frodo', 'password': PASSWORD,
                                       'csrf_token': token}, status=429)
    assert response.headers['Retry-After']
    assert response.html.find(role='alert') is not None


def test_counts_are_shared_by_processes_on_sql(app_settings, make_app_client):
    app_settings['auth.throttle_store'] = 'sql'
    one = make_app_client(app_settings)
    one.register('frodo')
    two = make_app_client(app_settings, share_store_with=one)
    fail(one, times=3)
    fail(two, times=2)
    assert_error(one.login('frodo', PASSWORD, status=None), 429, 'too_many_requests')
    assert_error(two.login('frodo', PASSWORD, status=None), 429, 'too_many_requests')
