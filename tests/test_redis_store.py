"""The Redis store against a real redis-server (and a real cluster): what it keeps, how.

What every store promises (touch, compare-and-set, the user index, expiry) is
test_store_protocol.py's; this is how Redis keeps it: keys, values, TTLs, slots.
"""
import hashlib
import json

import pytest
import redis
from redis.cluster import RedisCluster

from sessiondemo.config import SettingsError
from sessiondemo.connections.redis import RedisConnection, make_client
from sessiondemo.errors import StoreUnavailable
from sessiondemo.sessions.record import Record

from .helpers import build_store, fresh_prefix


@pytest.fixture
def rstore(redis_store_settings, clock):
    """The rstore (not the app) on the shared server, under a fresh prefix."""
    rstore = build_store('redis', redis_store_settings, clock)
    yield rstore
    rstore.client.close()


def record(clock, **data):
    return Record(data=data, created=clock(), touched=clock(), user_id=7)


def raw(store, key):
    return store.client.get(store.session_key(key))


def test_value_is_json_under_a_tagged_key_with_a_ttl(rstore, clock):
    rec = record(clock, name='Frodo')
    rstore.save('k' * 64, rec, rec.to_json(), clock() + 90)
    key = rstore.session_key('k' * 64)
    assert key == rstore.prefix + '{s:' + 'k' * 64 + '}'
    stored = json.loads(raw(rstore, 'k' * 64))           # JSON, never a pickle
    assert stored['t'] == clock() and stored['r']['d'] == {'name': 'Frodo'}
    assert 89_000 < rstore.client.pttl(key) <= 90_000
    assert rstore.load('k' * 64) == rec


@pytest.mark.parametrize('store', ['redis', 'redis-cluster'])
def test_the_cookie_id_is_never_a_key(testapp):
    testapp.register('frodo')
    sid = testapp.session_cookie().split('.')[0]
    store = testapp.app.registry.session_backend.store
    keys = [k.decode() for k in store.client.scan_iter(match=store.prefix + '*')]
    assert not any(sid in k for k in keys)
    assert store.session_key(hashlib.sha256(sid.encode()).hexdigest()) in keys


def test_a_value_we_did_not_write_is_no_session(rstore):
    rstore.client.set(rstore.session_key('a'), b'\x80garbage')
    assert rstore.load('a') is None
    rstore.client.set(rstore.session_key('b'), b'{"t":1,"r":{}}')
    assert rstore.load('b') is None


def test_user_index_is_pruned_and_expires(rstore, clock):
    for key in ('a', 'b'):
        rec = record(clock)
        rstore.save(key, rec, rec.to_json(), clock() + 100)
    rstore.delete('a')
    rstore.sessions_of(7)
    assert rstore.client.zcard(rstore.user_key(7)) == 1      # 'a' pruned from the index
    assert rstore.client.pttl(rstore.user_key(7)) > 0          # the index expires too


def test_expired_by_the_clock_is_deleted_not_written(rstore, clock):
    rec = record(clock)
    rstore.save('a', rec, rec.to_json(), clock() + 100)
    rstore.save('a', rec, rec.to_json(), clock() - 1)
    assert raw(rstore, 'a') is None


def test_timeouts_and_no_retries_come_from_the_settings(redis_store_settings, clock):
    store = build_store('redis', dict(redis_store_settings, **{'session.store_timeout': '0.25'}),
                        clock)
    kwargs = store.client.connection_pool.connection_kwargs
    assert kwargs['socket_timeout'] == 0.25 and kwargs['socket_connect_timeout'] == 0.25
    assert kwargs['retry'].get_retries() == 0


def test_prefix_with_braces_is_refused(redis_store_settings, clock):
    with pytest.raises(SettingsError, match='session.redis.prefix'):
        build_store('redis', dict(redis_store_settings, **{'session.redis.prefix': '{app}:'}),
                    clock)


@pytest.mark.parametrize('store', ['redis'])
def test_session_too_large_leaves_the_stored_value_alone(testapp):
    testapp.register('frodo')
    testapp.api('PATCH', '/api/session/data', {'name': 'Frodo'}, status=200)
    store = testapp.app.registry.session_backend.store
    (key,) = store.client.scan_iter(match=store.prefix + '{s:*')
    before = store.client.get(key)
    response = testapp.api('PATCH', '/api/session/data', {'blob': 'x' * 70_000})
    assert response.status_int == 413 and response.json['error']['code'] == 'session_too_large'
    assert store.client.get(key) == before


@pytest.fixture
def cluster_store(redis_cluster_store_settings, clock):
    store = build_store('redis', redis_cluster_store_settings, clock)
    yield store
    store.client.close()


def test_cluster_is_chosen_by_setting_or_scheme(redis_cluster, redis_cluster_store_settings,
                                                cluster_store, clock):
    assert isinstance(cluster_store.client, RedisCluster)
    by_scheme = dict(redis_cluster_store_settings, **{
        'session.redis.cluster': 'false',
        'session.redis.url': redis_cluster.url.replace('redis://', 'redis+cluster://')})
    assert isinstance(build_store('redis', by_scheme, clock).client, RedisCluster)


def test_cluster_spreads_sessions_and_keeps_a_users_keys_together(cluster_store, clock):
    slot = cluster_store.client.keyslot
    sessions = {slot(cluster_store.session_key(f'{n:064x}')) for n in range(20)}
    assert len(sessions) > 1                       # not every session on one node
    assert slot(cluster_store.user_key(7)) == slot(cluster_store.user_key(7, 'other'))


@pytest.mark.parametrize('store', ['redis-cluster'])
def test_cluster_nodes_each_hold_some_sessions(make_client, redis_cluster):
    clients = [make_client() for _ in range(12)]
    for n, client in enumerate(clients):
        client.register(f'user{n}')
    prefix = clients[0].app.registry.session_backend.store.prefix
    held = []
    for node in redis_cluster.nodes:
        with redis.Redis.from_url(node.url) as connection:
            held.append(sum(1 for _ in connection.scan_iter(match=prefix + '{s:*')))
    assert sum(held) == 12 and sum(1 for h in held if h) > 1


# The serving thread's own connection (connections/redis.py, Link): packed,
# sent and read by us on the socket redis-py's Connection made.

@pytest.fixture
def connection(redis_server):
    connection = RedisConnection(make_client(redis_server.url, 1.0), timeout=1.0)
    yield connection
    connection.client.close()


def test_a_reply_larger_than_the_read_buffer_is_read_whole(connection, redis_server):
    value = bytes(range(256)) * 1024            # 256 KiB: four times the buffer
    key = f'{fresh_prefix()}large'
    connection.client.set(key, value)
    assert connection.command('GET', key) == value
    assert connection.command('STRLEN', key) == len(value)     # and nothing left unread
    assert connection.command('MGET', key, key) == [value, value]


def test_an_error_reply_is_a_503_and_the_connection_serves_on(connection):
    key = f'{fresh_prefix()}text'
    connection.command('SET', key, 'not a number')
    link_id = connection.command('CLIENT', 'ID')
    with pytest.raises(StoreUnavailable):
        connection.command('INCR', key)
    assert connection.command('GET', key) == b'not a number'
    assert connection.command('CLIENT', 'ID') == link_id        # the same connection


def test_a_connection_the_server_closed_is_replaced_at_once(connection, redis_server):
    key = f'{fresh_prefix()}kept'
    connection.command('SET', key, 'kept')
    link_id = connection.command('CLIENT', 'ID')
    connection.client.execute_command('CLIENT', 'KILL', 'ID', link_id)
    assert connection.command('GET', key) == b'kept'             # no 503: once more, anew
    assert connection.command('CLIENT', 'ID') != link_id
