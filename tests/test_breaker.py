"""A hung store fails fast (connections/breaker.py), with the real server frozen.

The server is stopped with SIGSTOP under concurrent clients (threads, each its
own cookie jar, on one app) and resumed with SIGCONT in a ``finally``. Counted:
after the breaker has opened, every authenticated read answers 503 within
50 ms except the one probe at a time that waits on the server; a public
endpoint that needs no store keeps answering quickly; after SIGCONT the reads
succeed again within one probe interval. Waits poll with a deadline.
"""
import gc
import threading
import time

import pytest

from realservers import RedisServer, wait_until

from .helpers import TestApp

TIMEOUT = 0.3           # session.store_timeout
PROBE = 0.4             # session.store_probe_interval
CLIENTS = 4
FAST = 0.050
# Each client's pause between two requests: load, not synchronisation. The
# clients are threads of the test's process; unpaced, they would measure how
# long a request queues for the GIL rather than what the breaker does.
PACE = 0.01


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own, to freeze without disturbing others."""
    with RedisServer(tmp_path / 'redis') as server:
        yield server


@pytest.fixture
def frozen_server(store, request):
    """The server the store under test uses, to pause and resume."""
    return request.getfixturevalue({'redis': 'own_redis',
                                    'sql-postgresql': 'postgres_server'}[store])


class Load:
    """Clients reading /api/me in a loop, and one anonymous client reading the
    public /api/csrf; every answer recorded as (started, seconds, status)."""

    def __init__(self, clients, public):
        self.stop = threading.Event()
        self.reads, self.public = [], []
        self.threads = [threading.Thread(target=self._loop, args=(c, '/api/me', self.reads))
                        for c in clients]
        self.threads.append(threading.Thread(target=self._loop,
                                             args=(public, '/api/csrf', self.public)))

    def _loop(self, client, path, answers):
        while not self.stop.is_set():
            started = time.monotonic()
            status = client.get(path, expect_errors=True).status_int
            answers.append((started, time.monotonic() - started, status))
            self.stop.wait(PACE)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop.set()
        for thread in self.threads:
            thread.join(10)

    def count_after(self, answers, since, status=None):
        return sum(1 for started, _, s in list(answers)
                   if started >= since and (status is None or s == status))


@pytest.mark.parametrize('store', ['redis', 'sql-postgresql'])
def test_frozen_store_fails_fast_and_recovers_within_a_probe_interval(
        store, frozen_server, app_settings, make_app_client, audit):
    settings = dict(app_settings, **{'session.store_timeout': str(TIMEOUT),
                                     'session.store_probe_interval': str(PROBE)})
    if store == 'redis':
        settings['session.redis.url'] = frozen_server.url
    first = make_app_client(settings)
    first.register('frodo')
    clients = [first]
    app = first.app                             # one app, several threads: one process
    clients += [TestApp(app, extra_environ=dict(first.extra_environ))
                for _ in range(CLIENTS - 1)]
    for client in clients[1:]:
        client.login('frodo')
        client.get('/api/me', status=200)       # pooled connections, as in steady use
    connections = app.registry.connections
    breaker = (connections.redis() if store == 'redis' else connections.sql()).breaker
    public = TestApp(app, extra_environ=dict(first.extra_environ))

    # The test process holds every earlier test's garbage by now: a full
    # collection in the window would stop the app's threads and the clients'
    # alike (a public read of 415 ms once, late in a whole run; 2 ms alone).
    # What is measured is the breaker, not this process's heap.
    gc.collect()
    gc.disable()
    try:
        with Load(clients, public) as load:
            wait_until(lambda: load.count_after(load.reads, 0, 200) >= 20, 10, 'reads')
            frozen_server.pause()
            try:
                frozen = time.monotonic()
                wait_until(lambda: breaker.state != 'closed', 10, 'the breaker to open')
                opened = time.monotonic()
                # A while frozen: enough reads, and at least two probes' worth.
                wait_until(lambda: load.count_after(load.reads, opened) >= 60
                           and time.monotonic() - opened > 3 * PROBE, 20, 'reads while frozen')
            finally:
                frozen_server.resume()
            resumed = time.monotonic()
            wait_until(lambda: load.count_after(load.reads, resumed, 200) >= 1, 10, 'recovery')
            recovered = min(started + seconds for started, seconds, status in list(load.reads)
                            if started >= resumed and status == 200)
            wait_until(lambda: load.count_after(load.public, recovered) >= 5, 10, 'public reads')
    finally:
        gc.enable()

    during = [(started, seconds, status) for started, seconds, status in load.reads
              if opened <= started and started + seconds < resumed]
    slow = [answer for answer in during if answer[1] >= FAST]
    print(sorted(round(seconds * 1000, 1) for _, seconds, _ in during)[-20:])
    assert all(status == 503 for _, _, status in during)
    # Only the probes wait on the server: one at a time, one per interval at most.
    assert len(slow) <= (resumed - opened) / PROBE + 1, slow
    assert len(during) - len(slow) >= 50
    public_during = [seconds for started, seconds, status in load.public
                     if frozen <= started < resumed]
    assert public_during and all(s < FAST for s in public_during), max(public_during)
    time_to_open = opened - frozen
    assert time_to_open < TIMEOUT + 0.5
    assert recovered - resumed <= PROBE + 0.1, recovered - resumed
    print(f'\n{store}: breaker open {time_to_open:.3f} s after SIGSTOP; '
          f'{len(during) - len(slow)} fast 503s, slowest '
          f'{max(s for _, s, _ in during if s < FAST) * 1000:.1f} ms; {len(slow)} probes; '
          f'public max {max(public_during) * 1000:.1f} ms over {len(public_during)}; '
          f'reads back {recovered - resumed:.3f} s after SIGCONT')

    # One audit line per 503, each with its request's id.
    refused = audit.of('store_unavailable', 'refused')
    assert len(refused) == sum(1 for _, _, status in load.reads if status == 503)
    assert len({line['request_id'] for line in refused}) == len(refused)
    assert audit.of('breaker', 'open', store=breaker.store)
    assert audit.of('breaker', 'closed', store=breaker.store)
    assert breaker.state == 'closed'
    first.get('/api/me', status=200)
    metrics = first.get('/metrics').text
    assert f'sessiondemo_store_breaker_state{{store="{breaker.store}"}} 0.0' in metrics
    assert f'sessiondemo_store_breaker_opens_total{{store="{breaker.store}"}}' in metrics
