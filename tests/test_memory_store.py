"""The memory store: bounded, swept, safe under threads.

What every store promises (expiry, copies, touch, compare-and-set, the user
index) is test_store_protocol.py's; this is what only the memory store does.
"""
import threading

import pytest

from sessiondemo.sessions.record import Record
from sessiondemo.sessions.memory import MemoryStore

from .helpers import Clock


def record(clock):
    return Record(data={'auth.userid': 1}, created=clock(), touched=clock())


def test_least_recently_used_is_evicted_past_the_bound():
    clock = Clock(1000)
    store = MemoryStore(max_sessions=2, clock=clock)
    for key in 'abc':
        store.save(key, record(clock), record(clock).to_json(), clock() + 100)
    assert store.count() == 2
    assert store.load('a') is None
    assert store.load('b') is not None and store.load('c') is not None


def test_a_read_counts_as_use_for_eviction():
    clock = Clock(1000)
    store = MemoryStore(max_sessions=2, clock=clock)
    store.save('a', record(clock), record(clock).to_json(), clock() + 100)
    store.save('b', record(clock), record(clock).to_json(), clock() + 100)
    store.load('a')
    store.save('c', record(clock), record(clock).to_json(), clock() + 100)
    assert store.load('a') is not None
    assert store.load('b') is None


def test_expired_records_are_swept_and_purged():
    clock = Clock(1000)
    store = MemoryStore(max_sessions=100, clock=clock, sweep_every=5)
    for i in range(4):
        store.save(f'old{i}', record(clock), record(clock).to_json(), clock() + 10)
    clock.now += 20
    store.save('new', record(clock), record(clock).to_json(), clock() + 10)   # 5th write sweeps
    assert store.count() == 1
    store.save('x', record(clock), record(clock).to_json(), clock() + 10)
    clock.now += 20
    assert store.purge_expired() == 2
    assert store.count() == 0


def test_a_record_that_expires_exactly_now_is_swept():
    clock = Clock(1000)
    store = MemoryStore(max_sessions=100, clock=clock)
    store.save('a', record(clock), record(clock).to_json(), clock() + 10)
    clock.now += 10                         # its expiry is now: gone, not kept a tick longer
    assert store.purge_expired() == 1
    assert store.count() == 0


def test_concurrent_writers_keep_the_bound_and_lose_no_record():
    clock = Clock(1000)
    store = MemoryStore(max_sessions=10_000, clock=clock, sweep_every=7)
    barrier = threading.Barrier(8)

    def writer(n):
        barrier.wait()
        for i in range(500):
            key = f'{n}-{i}'
            store.save(key, record(clock), record(clock).to_json(), clock() + 100)
            assert store.load(key) is not None

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count() == 4000


@pytest.fixture
def store():
    return 'memory'


def test_bound_applies_through_the_app(app_settings, make_app_client):
    app_settings['session.memory.max_sessions'] = '2'
    first = make_app_client(app_settings)
    first.register('frodo')
    second = make_app_client(app_settings, share_store_with=first)
    second.register('sam')
    third = make_app_client(app_settings, share_store_with=first)
    third.register('merry')
    first.get('/api/me', status=401)      # evicted: the least recently used
    second.get('/api/me', status=200)
    third.get('/api/me', status=200)
