"""Password throttling (logins and password changes), counted wherever the
configured store puts it, before the password is verified."""
import threading

import pytest

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


def test_a_new_window_opens_after_one_closes_and_blocks_again(testapp, make_client, clock):
    make_client().register('frodo')
    for _ in range(2):
        fail(testapp, times=5)
        assert_error(testapp.login('frodo', PASSWORD, status=None), 429, 'too_many_requests')
        clock.advance(900)


def test_successes_and_refused_attempts_are_not_failures(app_settings, make_app_client):
    """Attempts are counted before the password is checked; those that turn
    out not to be failures (a success, a 429) are given back to the address."""
    app_settings.update({'auth.max_failures': '3', 'auth.max_failures_per_address': '5'})
    client = make_app_client(app_settings)
    client.register('frodo')
    client.register('sam')
    for _ in range(8):
        client.login('frodo', PASSWORD, status=200)
    fail(client, 'frodo', times=3)                                  # address: 3
    for _ in range(4):
        assert_error(client.login('frodo', PASSWORD, status=None), 429, 'too_many_requests')
    fail(client, 'sam')                                             # address: 4
    client.login('sam', PASSWORD, status=200)       # the 5th attempt: within the limit
    fail(client, 'sam')                                             # address: 5
    assert_error(client.login('sam', PASSWORD, status=None), 429, 'too_many_requests')


# POST /api/password: the same throttle --------------------------------------

def change_password(client, current, new='a brand new password'):
    return client.api('POST', '/api/password', {'current_password': current,
                                               'new_password': new})


def test_wrong_current_passwords_count_like_failed_logins(testapp, make_client, clock):
    testapp.register('frodo')
    for _ in range(5):
        assert_error(change_password(testapp, 'wrong password'), 401, 'invalid_credentials')
    clock.advance(10)
    blocked = change_password(testapp, PASSWORD)                    # the right one too
    assert_error(blocked, 429, 'too_many_requests')
    assert int(blocked.headers['Retry-After']) == 890
    # The same window as a login's: the password cannot be guessed either way.
    assert_error(make_client().login('frodo', PASSWORD, status=None), 429, 'too_many_requests')
    testapp.get('/api/me', status=200)             # the session itself goes on
    clock.advance(890)
    change_password(testapp, PASSWORD).json == {'message': 'password changed'}


def test_failed_logins_and_password_checks_share_one_window(testapp, make_client):
    testapp.register('frodo')
    fail(make_client(), times=3)
    for _ in range(2):
        assert_error(change_password(testapp, 'wrong password'), 401, 'invalid_credentials')
    assert_error(change_password(testapp, PASSWORD), 429, 'too_many_requests')
    assert_error(make_client().login('frodo', PASSWORD, status=None), 429, 'too_many_requests')


def test_a_password_change_resets_the_count(testapp, make_client):
    testapp.register('frodo')
    for _ in range(4):
        assert_error(change_password(testapp, 'wrong password'), 401, 'invalid_credentials')
    assert change_password(testapp, PASSWORD, 'the next password').status_int == 200
    fail(make_client(), times=4)
    make_client().login('frodo', 'the next password', status=200)


def test_password_checks_count_per_address(app_settings, make_app_client):
    app_settings['auth.max_failures_per_address'] = '3'
    client = make_app_client(app_settings)
    client.register('frodo')
    fail(client, 'ann', times=2)
    assert_error(change_password(client, 'wrong password'), 401, 'invalid_credentials')
    assert_error(change_password(client, PASSWORD), 429, 'too_many_requests')


# Counted before verified -----------------------------------------------------

class HeldVerifications:
    """Wraps the app's password check: each verification waits until every
    request of the burst is either waiting here too or answered. A throttle
    that checks before it counts lets the whole burst in; one that counts
    first lets in only what its limit allows, and answers the rest at once."""

    def __init__(self, hasher, burst):
        self.verify = hasher.verify
        self.burst = burst
        self.verifications = 0
        self.answered = 0
        self.condition = threading.Condition()
        hasher.verify = self.held_verify

    def held_verify(self, *args):
        with self.condition:
            self.verifications += 1
            self.condition.notify_all()
            released = self.condition.wait_for(
                lambda: self.verifications + self.answered >= self.burst, timeout=60)
        assert released, (self.verifications, self.answered)
        return self.verify(*args)

    def answer(self):
        with self.condition:
            self.answered += 1
            self.condition.notify_all()


@pytest.fixture
def patient_store(app_settings):
    """A store timeout no burst on a loaded machine comes near: what is
    counted here is verifications, not how long 30 upserts of one row (or
    30 threads waiting for the pool's connections) take. Listed before
    ``testapp``, so its app is made with it."""
    app_settings['session.store_timeout'] = '30'


def test_concurrent_wrong_logins_run_at_most_max_failures_verifications(patient_store, testapp,
                                                                        make_client):
    testapp.register('frodo')
    burst = 30
    clients = [make_client() for _ in range(burst)]
    tokens = [client.csrf_token() for client in clients]
    held = HeldVerifications(testapp.app.registry.password_hasher, burst)
    statuses = []

    def guess(client, token):
        try:
            response = client.api('POST', '/api/login', {'username': 'frodo',
                                                        'password': 'wrong password'},
                                  headers={'X-CSRF-Token': token})
            statuses.append((response.status_int, response.headers.get('Retry-After')))
        finally:
            held.answer()

    threads = [threading.Thread(target=guess, args=pair) for pair in zip(clients, tokens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert held.verifications == 5
    assert sorted(status for status, _ in statuses) == [401] * 5 + [429] * 25
    assert all(retry for status, retry in statuses if status == 429)
    assert_error(make_client().login('frodo', PASSWORD, status=None), 429, 'too_many_requests')
