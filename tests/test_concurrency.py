"""Concurrent requests of one session: no lost update, no resurrection after logout.

The races are forced, not hoped for: a thin wrapper around the real store makes
chosen requests wait, after they have read the session, until the test lets
them go on (threading primitives, no sleeps).
"""
import threading

import pytest

from .helpers import SERVER_SIDE, STORES, TestApp, assert_error


server_side = pytest.mark.parametrize('store', [s for s in STORES if s in SERVER_SIDE])


class HoldingStore:
    """The real store, with a gate after ``load`` for requests that ask for it."""

    def __init__(self, store):
        self.store = store
        self.gates = threading.local()

    def __getattr__(self, name):
        return getattr(self.store, name)

    def load(self, key):
        record = self.store.load(key)
        gate = getattr(self.gates, 'after_load', None)
        if gate is not None:
            self.gates.after_load = None
            gate()
        return record


def hold(app):
    backend = app.registry.session_backend
    holding = HoldingStore(backend.store)
    backend.store = holding
    return holding


def run_in_thread(work, gate, holding):
    errors = []

    def target():
        holding.gates.after_load = gate
        try:
            work()
        except Exception as error:   # reported by the test thread
            errors.append(error)
    thread = threading.Thread(target=target)
    thread.start()
    return thread, errors


@server_side
def test_concurrent_writes_to_different_keys_lose_nothing(testapp, make_client):
    testapp.register('frodo')
    cookie = testapp.session_cookie()
    holding = hold(testapp.app)
    clients = [make_client(), make_client()]
    for client in clients:
        client.set_cookie('sid', cookie)
    tokens = [client.csrf_token() for client in clients]
    for pair in range(50):
        both_loaded = threading.Barrier(2, timeout=30)
        threads = []
        for side, (client, token) in enumerate(zip(clients, tokens)):
            body = {f'k{pair}_{side}': pair}
            threads.append(run_in_thread(
                lambda c=client, b=body, t=token: c.patch_json(
                    '/api/session/data', b, headers={'X-CSRF-Token': t}, status=200),
                both_loaded.wait, holding))
        for thread, errors in threads:
            thread.join(60)
            assert not errors, errors
    data = testapp.get('/api/session/data').json['data']
    assert len(data) == 100
    assert data == {f'k{p}_{s}': p for p in range(50) for s in (0, 1)}


@server_side
def test_writers_of_one_session_take_turns_and_none_is_refused(testapp, app_settings,
                                                                make_app_client):
    """Eight writers in each of two processes (two apps on one store), all
    having read the same version before any writes: every one succeeds (no
    503 for a busy session) and no key is lost."""
    testapp.register('frodo')
    cookie = testapp.session_cookie()
    other = make_app_client(app_settings, share_store_with=testapp)
    apps = [testapp.app, other.app]
    holdings = [hold(app) for app in apps]
    writers = 8
    all_loaded = threading.Barrier(2 * writers, timeout=30)
    threads = []
    for process, holding in enumerate(holdings):
        for n in range(writers):
            client = TestApp(apps[process], extra_environ={'HTTP_HOST': 'localhost',
                                                           'REMOTE_ADDR': '127.0.0.1'})
            client.set_cookie('sid', cookie)
            token = client.csrf_token()
            threads.append(run_in_thread(
                lambda c=client, t=token, k=f'p{process}_w{n}': c.patch_json(
                    '/api/session/data', {k: 1}, headers={'X-CSRF-Token': t}, status=200),
                all_loaded.wait, holding))
    for thread, errors in threads:
        thread.join(60)
        assert not errors, errors
    data = testapp.get('/api/session/data').json['data']
    assert data == {f'p{p}_w{n}': 1 for p in range(2) for n in range(writers)}


@server_side
def test_request_held_across_logout_cannot_restore_the_session(testapp, make_client):
    testapp.register('frodo')
    cookie = testapp.session_cookie()
    holding = hold(testapp.app)
    slow = make_client()
    slow.set_cookie('sid', cookie)
    token = slow.csrf_token()
    loaded, logged_out = threading.Event(), threading.Event()

    def gate():
        loaded.set()
        assert logged_out.wait(30)
    thread, errors = run_in_thread(
        lambda: slow.patch_json('/api/session/data', {'late': 'write'},
                                headers={'X-CSRF-Token': token}, status='*'),
        gate, holding)
    assert loaded.wait(30)
    testapp.logout()
    logged_out.set()
    thread.join(60)
    assert not errors, errors
    replay = make_client()
    replay.set_cookie('sid', cookie)
    assert_error(replay.get('/api/me', expect_errors=True), 401, 'unauthenticated')
    assert holding.store.count() == 0


@pytest.mark.parametrize('store', ['cookie'])
def test_cookie_store_last_cookie_wins(testapp, make_client):
    """Documented, not fixed: two cookies minted from one, the client keeps one."""
    testapp.register('frodo')
    cookie = testapp.session_cookie()
    one, two = make_client(), make_client()
    for client in (one, two):
        client.set_cookie('sid', cookie)
    one.api('PATCH', '/api/session/data', {'a': 1}, status=200)
    two.api('PATCH', '/api/session/data', {'b': 2}, status=200)
    testapp.set_cookie('sid', two.session_cookie())      # the response that came last
    assert testapp.get('/api/session/data').json == {'data': {'b': 2}}
