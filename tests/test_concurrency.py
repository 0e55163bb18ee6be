"""Concurrent requests of one session: no lost update, no resurrection after logout.

The races are forced, not hoped for: a thin wrapper around the real store makes
chosen requests wait, after they have read the session, until the test lets
them go on (threading primitives, no sleeps).
"""
import threading

import pytest

from sessiondemo.sessions.interfaces import REPLACED

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
def test_writers_in_one_process_write_over_each_other_without_a_conflict(testapp):
    """Eight writers of one session in one process, all having read the same
    version: each write goes onto the record written before it, as one
    compare-and-set that succeeds (several changes in one, when they queued
    behind a round trip), with no conflict and no second read (a conflict
    costs two more round trips on Redis or SQL)."""
    testapp.register('frodo')
    cookie = testapp.session_cookie()
    writers = 8
    clients = []
    for _ in range(writers):
        client = TestApp(testapp.app, extra_environ={'HTTP_HOST': 'localhost',
                                                     'REMOTE_ADDR': '127.0.0.1'})
        client.set_cookie('sid', cookie)
        clients.append((client, client.csrf_token()))
    holding = hold(testapp.app)
    loads, outcomes = [], []
    real_load, real_replace = holding.load, holding.store.replace

    def load(key):
        loads.append(key)
        return real_load(key)

    def replace(*args, **kwargs):
        outcome = real_replace(*args, **kwargs)
        outcomes.append(outcome)
        return outcome
    holding.load, holding.replace = load, replace
    all_loaded = threading.Barrier(writers, timeout=30)
    threads = [run_in_thread(
        lambda c=client, t=token, k=f'w{n}': c.patch_json(
            '/api/session/data', {k: n}, headers={'X-CSRF-Token': t}, status=200),
        all_loaded.wait, holding) for n, (client, token) in enumerate(clients)]
    for thread, errors in threads:
        thread.join(60)
        assert not errors, errors
    assert outcomes and set(outcomes) == {REPLACED}
    assert len(outcomes) <= writers
    assert len(loads) == writers            # the writers' own reads, none again
    data = testapp.get('/api/session/data').json['data']
    assert data == {f'w{n}': n for n in range(writers)}


class CountedQueue(list):
    """A writer's queue that says how many changes have joined it."""

    def __init__(self, arrived):
        super().__init__()
        self.arrived = arrived

    def append(self, change):
        super().append(change)
        with self.arrived:
            self.arrived.count += 1
            self.arrived.notify_all()


def write_in_one_queue(testapp, bodies):
    """PATCH each of ``bodies`` in threads on ``testapp``'s session: the first
    alone, its write held until every other has queued behind it. Returns
    the statuses in the order of ``bodies`` and the data keys of each
    compare-and-set sent."""
    cookie = testapp.session_cookie()
    clients = []
    for _ in bodies:
        client = TestApp(testapp.app, extra_environ={'HTTP_HOST': 'localhost',
                                                     'REMOTE_ADDR': '127.0.0.1'})
        client.set_cookie('sid', cookie)
        clients.append((client, client.csrf_token()))
    holding = hold(testapp.app)
    writer = testapp.app.registry.session_backend._writer
    arrived = threading.Condition()
    arrived.count = 0
    writer._queues = [CountedQueue(arrived) for _ in writer._queues]
    written, statuses = [], [None] * len(bodies)
    real_replace = holding.store.replace
    first_writing = threading.Event()

    def replace(key, record, blob, expires_at, expected):
        if not written:     # the first write waits until the others have queued
            first_writing.set()
            with arrived:
                assert arrived.wait_for(lambda: arrived.count == len(bodies), timeout=30)
        written.append(sorted(k[len('data:'):] for k in record.data if k.startswith('data:')))
        return real_replace(key, record, blob, expires_at, expected)
    holding.replace = replace

    def patch(n, client, token):
        statuses[n] = client.patch_json('/api/session/data', bodies[n], expect_errors=True,
                                        headers={'X-CSRF-Token': token}).status_int
    # The first alone, until its write is on its way; then the others.
    threads = [run_in_thread(lambda: patch(0, *clients[0]), None, holding)]
    assert first_writing.wait(30)
    threads += [run_in_thread(lambda n=n, c=client, t=token: patch(n, c, t), None, holding)
                for n, (client, token) in enumerate(clients) if n]
    for thread, errors in threads:
        thread.join(60)
        assert not errors, errors
    return statuses, written


@server_side
def test_changes_queued_behind_a_write_are_written_together(testapp):
    """While one writer's compare-and-set is on its way, the seven that come
    after it queue; the next to hold the turn writes all seven changes in
    one compare-and-set, and every change is kept."""
    testapp.register('frodo')
    writers = 8
    statuses, written = write_in_one_queue(testapp, [{f'w{n}': n} for n in range(writers)])
    assert statuses == [200] * writers
    assert len(written) == 2
    assert len(written[0]) == 1 and written[1] == sorted(f'w{n}' for n in range(writers))
    data = testapp.get('/api/session/data').json['data']
    assert data == {f'w{n}': n for n in range(writers)}


@server_side
def test_a_change_too_large_for_the_queue_is_refused_alone(testapp):
    """Queued changes are written in order, each as if alone: the one that
    would take the session past its limit gets the 413 it would have had,
    and the changes beside it are written."""
    testapp.register('frodo')
    big = 'x' * 40_000          # one fits in the 64 KB a session may hold, two don't
    statuses, written = write_in_one_queue(
        testapp, [{'small': 1}, {'big1': big}, {'big2': big}, {'after': 2}])
    assert statuses[0] == statuses[3] == 200
    assert sorted(statuses[1:3]) == [200, 413]
    kept = 'big1' if statuses[1] == 200 else 'big2'
    assert len(written) == 2 and written[1] == sorted(['small', kept, 'after'])
    data = testapp.get('/api/session/data').json['data']
    assert data == {'small': 1, kept: big, 'after': 2}


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
