"""The store protocol, run unchanged against every server-side store.

Like the shared mixin in Pyramid's own tests/test_session.py: one body of
tests that every store must pass, here memory (the reference), Redis, Redis
Cluster, SQL on SQLite and SQL on PostgreSQL, on real servers. The tests drive
the store seam directly, as ``ServerSideBackend`` does (by SHA-256 keys, never
a session id); the HTTP contract is test_contract.py's.

What every store promises, as tested below:

- ``save(key, record, blob, expires_at)`` writes (or overwrites) the record;
  ``load(key)`` answers it with every field, ``source`` being the ``blob``
  written, until ``expires_at`` and ``None`` from then on, and for keys it
  never saw.
- ``touch(key, record, expires_at)`` moves only the touched time and the
  expiry: data written meanwhile stays, and a session deleted or expired stays
  gone.
- ``replace(..., expected)`` writes only over the version read (``REPLACED``);
  over anything newer it writes nothing (``CONFLICT``); a deleted or expired
  session it leaves gone (``MISSING``).
- ``sessions_of(user_id)`` lists the user's live sessions, nobody else's, and
  forgets deleted ones.
- ``count()`` answers the records held; ``ping()`` answers True.
- ``purge_expired()`` leaves only live records. Memory and SQL delete the
  expired ones and answer how many; Redis answers 0, because the server drops
  expired keys by itself (``PURGE_REPORTS``).
- A store sees no key of another store or namespace (Redis prefix, database).

A fifth store joins by a branch in ``make_store`` and its settings in
``settings_of``/``other_settings`` (and, if its server keeps time by its own
clock as Redis does, in ``Stores.elapse``).
"""
import hashlib
import os
import shutil

import pytest
from sqlalchemy import create_engine

from sessiondemo.config.objects import Timeouts
from sessiondemo.errors import StoreUnavailable
from sessiondemo.scripts.initialize_db import upgrade
from sessiondemo.sessions.interfaces import CONFLICT, MISSING, REPLACED
from sessiondemo.sessions.memory import MemoryStore
from sessiondemo.sessions.merging import Change, MergingWriter
from sessiondemo.sessions.record import Record

from .helpers import build_store, fresh_prefix

KINDS = ['memory', 'redis', 'redis-cluster', 'sql-sqlite', 'sql-postgresql']
# Whether purge_expired() deletes expired records and says how many (True) or
# has nothing to do because the server expires them by itself (False).
PURGE_REPORTS = {'memory': True, 'redis': False, 'redis-cluster': False,
                 'sql-sqlite': True, 'sql-postgresql': True}
LIFE = 100          # seconds a record saved by these tests lives, unless it says otherwise


# Making the stores: the one place that knows their constructors -------------

def make_store(kind, settings, clock):
    """A store of ``kind`` as the app would make it from ``settings``."""
    if kind == 'memory':
        return MemoryStore(max_sessions=1000, clock=clock)
    if kind in ('redis', 'redis-cluster'):
        return build_store('redis', settings, clock)
    return build_store('sql', settings, clock)


def close_store(kind, store, settings):
    if kind in ('redis', 'redis-cluster'):
        store.client.close()
    elif kind.startswith('sql') and store.bind is not settings.get('dbengine'):
        store.bind.dispose()        # its own engine (the shared one has its fixture)


def settings_of(request, kind):
    """Settings of the store under test, on the shared real servers."""
    if kind == 'memory':
        return {}
    if kind == 'sql-sqlite':
        engine = request.getfixturevalue('dbengine')     # migrated, this test's own
        return {'sqlalchemy.url': str(engine.url), 'dbengine': engine}
    fixture = {'redis': 'redis_store_settings', 'redis-cluster': 'redis_cluster_store_settings',
               'sql-postgresql': 'postgresql_store_settings'}[kind]
    return dict(request.getfixturevalue(fixture))


def other_settings(request, kind):
    """Settings of a second store of the same kind in a namespace of its own."""
    if kind == 'memory':
        return {}
    if kind in ('redis', 'redis-cluster'):
        return dict(settings_of(request, kind), **{'session.redis.prefix': fresh_prefix()})
    if kind == 'sql-sqlite':
        path = request.getfixturevalue('tmp_path') / 'other.sqlite'
        shutil.copy(request.getfixturevalue('db_template'), path)
        return {'sqlalchemy.url': f'sqlite:///{path}'}
    url = request.getfixturevalue('other_postgres_url')
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql('TRUNCATE sessions')
    engine.dispose()
    return {'session.sql.url': url}


@pytest.fixture(scope='session')
def other_postgres_url(postgres_server):
    """A second, migrated database on the shared PostgreSQL server."""
    admin = create_engine(postgres_server.url, isolation_level='AUTOCOMMIT')
    with admin.connect() as connection:
        connection.exec_driver_sql('CREATE DATABASE protocol_other')
    admin.dispose()
    url = postgres_server.url.rsplit('/', 1)[0] + '/protocol_other'
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


class Stores:
    """The stores one test made, and the time they all see pass."""

    def __init__(self, kind, clock):
        self.kind = kind
        self.clock = clock
        self.made = []

    def make(self, settings):
        store = make_store(self.kind, settings, self.clock)
        self.made.append((store, settings))
        return store

    def elapse(self, seconds):
        """Let ``seconds`` pass for the app and for the store's server."""
        self.clock.advance(seconds)
        if self.kind in ('redis', 'redis-cluster'):
            # Redis expires keys by its own clock, not the app's: shorten this
            # test's TTLs by the same amount (a TTL that reaches 0 deletes the
            # key), which is what that much real time would do to them.
            for store, _ in self.made:
                for name in list(store.client.scan_iter(match=store.prefix + '*')):
                    ttl = store.client.pttl(name)
                    if ttl >= 0:
                        store.client.pexpire(name, max(0, ttl - int(seconds * 1000)))

    def close(self):
        for store, settings in self.made:
            close_store(self.kind, store, settings)


@pytest.fixture(params=KINDS)
def kind(request):
    """Which store the protocol runs against."""
    return request.param


@pytest.fixture
def stores(kind, clock):
    made = Stores(kind, clock)
    yield made
    made.close()


@pytest.fixture
def store(request, kind, stores):
    """The store under test (here an object, not conftest's store name)."""
    return stores.make(settings_of(request, kind))


@pytest.fixture
def other_store(request, kind, stores):
    """A second store of the same kind, in another namespace."""
    return stores.make(other_settings(request, kind))


@pytest.fixture
def elapse(stores):
    return stores.elapse


# Records --------------------------------------------------------------------

def new_key():
    return hashlib.sha256(os.urandom(16)).hexdigest()      # what store_key() gives


def record(clock, user_id=7, **data):
    return Record(data=data or {'name': 'Frodo'}, created=clock(), touched=clock(),
                  user_id=user_id, user_agent='hobbit-browser/1.0', ip='127.0.0.1')


def put(store, key, rec, expires_at):
    """save() as the backend calls it; the blob written."""
    blob = rec.to_json()
    store.save(key, rec, blob, expires_at)
    return blob


def successor(rec, clock, **data):
    """What a later request of the same session writes."""
    return Record(data=data, created=rec.created, touched=clock(), user_id=rec.user_id,
                  user_agent='other-browser/2.0', ip='10.0.0.2')


# Save and load --------------------------------------------------------------

@pytest.mark.parametrize('user_id', [7, None], ids=['user', 'anonymous'])
def test_save_then_load_gives_back_every_field(store, clock, user_id):
    rec = Record(data={'auth.userid': user_id, 'name': 'Frodo Beutlin \u00fc \U0001f344',
                       'nested': {'list': [1, 2.5, None, True], 'empty': {}}},
                 created=clock() - 12.5, touched=clock() - 0.25, user_id=user_id,
                 user_agent='hobbit-browser/1.0 (Shire)', ip='2001:db8::1')
    key = new_key()
    blob = put(store, key, rec, clock() + LIFE)
    loaded = store.load(key)
    assert loaded == rec
    assert (loaded.created, loaded.touched, loaded.user_id) == (clock() - 12.5,
                                                               clock() - 0.25, user_id)
    assert loaded.source == blob            # the version replace() compares against
    loaded.data['name'] = 'Sam'             # the caller's copy, not the store's
    assert store.load(key) == rec


def test_unknown_key_loads_as_none(store):
    assert store.load(new_key()) is None


def test_save_overwrites(store, clock):
    key = new_key()
    put(store, key, record(clock, v=1), clock() + LIFE)
    second = record(clock, v=2)
    blob = put(store, key, second, clock() + LIFE)
    assert store.load(key) == second and store.load(key).source == blob
    assert store.count() == 1


def test_a_record_loads_until_its_expiry_and_not_from_then_on(store, clock, elapse):
    key = new_key()
    rec = record(clock)
    put(store, key, rec, clock() + 10)
    elapse(9)
    assert store.load(key) == rec
    elapse(1)
    assert store.load(key) is None


def test_a_record_saved_already_expired_is_no_session(store, clock):
    key = new_key()
    put(store, key, record(clock), clock() - 1)
    assert store.load(key) is None


# Touch ----------------------------------------------------------------------

def test_touch_slides_the_expiry_and_the_touched_time_only(store, clock, elapse):
    key = new_key()
    rec = record(clock)
    put(store, key, rec, clock() + LIFE)
    read = store.load(key)
    elapse(60)
    read.touched = clock()
    store.touch(key, read, clock() + LIFE)
    elapse(60)                                  # past the expiry the save gave
    loaded = store.load(key)
    assert loaded is not None and loaded.touched == clock() - 60
    assert (loaded.data, loaded.created, loaded.user_id, loaded.user_agent, loaded.ip) == (
        rec.data, rec.created, rec.user_id, rec.user_agent, rec.ip)
    assert dict(store.sessions_of(7))[key].touched == clock() - 60
    elapse(LIFE - 60)
    assert store.load(key) is None             # at the expiry the touch gave


@pytest.mark.parametrize('concurrent', ['save', 'replace'])
def test_touch_keeps_data_written_since_the_record_was_read(store, clock, elapse, concurrent):
    key = new_key()
    rec = record(clock, v=1)
    put(store, key, rec, clock() + LIFE)
    stale = store.load(key)                     # a read-only request loaded this...
    newer = successor(rec, clock, v=2)          # ...while another one wrote this
    if concurrent == 'save':
        put(store, key, newer, clock() + LIFE)
    else:
        assert store.replace(key, newer, newer.to_json(), clock() + LIFE,
                             expected=stale.source) == REPLACED
    elapse(30)
    stale.touched = clock()
    store.touch(key, stale, clock() + LIFE)
    loaded = store.load(key)
    assert loaded.data == {'v': 2} and loaded.user_agent == 'other-browser/2.0'
    assert loaded.touched == clock()


def test_touch_never_revives_a_deleted_session(store, clock, elapse):
    key = new_key()
    put(store, key, record(clock), clock() + LIFE)
    read = store.load(key)
    store.delete(key)                           # logged out while a request ran
    elapse(1)
    read.touched = clock()
    store.touch(key, read, clock() + LIFE)
    assert store.load(key) is None
    assert store.sessions_of(7) == []
    assert store.count() == 0                   # not even a husk of a record


def test_touch_never_revives_an_expired_session(store, clock, elapse):
    key = new_key()
    put(store, key, record(clock), clock() + 10)
    read = store.load(key)
    elapse(11)                                  # expired while a request ran
    read.touched = clock()
    store.touch(key, read, clock() + LIFE)
    assert store.load(key) is None
    store.purge_expired()
    assert store.count() == 0


# Replace (compare-and-set) --------------------------------------------------

def test_replace_over_the_version_read_writes(store, clock, elapse):
    key = new_key()
    rec = record(clock, v=1)
    put(store, key, rec, clock() + LIFE)
    read = store.load(key)
    elapse(30)
    mine = successor(rec, clock, v=2)
    blob = mine.to_json()
    assert store.replace(key, mine, blob, clock() + LIFE, expected=read.source) == REPLACED
    loaded = store.load(key)
    assert loaded == mine and loaded.source == blob
    assert dict(store.sessions_of(7)) == {key: mine}
    elapse(LIFE - 10)                           # past the expiry the save gave
    assert store.load(key) == mine
    elapse(10)
    assert store.load(key) is None              # at the expiry the replace gave


def test_replace_over_a_newer_version_is_a_conflict_and_writes_nothing(store, clock, elapse):
    key = new_key()
    rec = record(clock, v=1)
    put(store, key, rec, clock() + LIFE)
    read = store.load(key)
    theirs = successor(rec, clock, v=2)
    assert store.replace(key, theirs, theirs.to_json(), clock() + LIFE,
                         expected=read.source) == REPLACED
    elapse(1)
    mine = successor(rec, clock, v=3)
    assert store.replace(key, mine, mine.to_json(), clock() + LIFE,
                         expected=read.source) == CONFLICT
    loaded = store.load(key)
    assert loaded == theirs and loaded.source == theirs.to_json()


def test_replace_with_the_version_read_after_a_touch_writes(store, clock, elapse):
    key = new_key()
    rec = record(clock, v=1)
    put(store, key, rec, clock() + LIFE)
    elapse(30)
    touched = store.load(key)
    touched.touched = clock()
    store.touch(key, touched, clock() + LIFE)
    read = store.load(key)
    mine = successor(rec, clock, v=2)
    assert store.replace(key, mine, mine.to_json(), clock() + LIFE,
                         expected=read.source) == REPLACED
    assert store.load(key) == mine


def read_then_deleted(store, clock):
    """(key, record, what a request read): the session is deleted after the read."""
    key = new_key()
    rec = record(clock)
    put(store, key, rec, clock() + LIFE)
    read = store.load(key)
    store.delete(key)
    return key, rec, read


def test_replace_of_a_deleted_session_is_missing_and_it_stays_gone(store, clock):
    key, rec, read = read_then_deleted(store, clock)
    mine = successor(rec, clock, v=2)
    assert store.replace(key, mine, mine.to_json(), clock() + LIFE,
                         expected=read.source) == MISSING
    assert store.load(key) is None
    assert store.sessions_of(7) == []
    assert store.count() == 0


def test_replace_of_an_expired_session_is_missing_and_it_stays_gone(store, clock, elapse):
    key = new_key()
    rec = record(clock)
    put(store, key, rec, clock() + 10)
    read = store.load(key)
    elapse(10)
    mine = successor(rec, clock, v=2)
    assert store.replace(key, mine, mine.to_json(), clock() + LIFE,
                         expected=read.source) == MISSING
    assert store.load(key) is None
    store.purge_expired()
    assert store.count() == 0


# Delete ---------------------------------------------------------------------

def test_delete_removes_the_record_and_only_it(store, clock):
    gone, kept = new_key(), new_key()
    put(store, gone, record(clock), clock() + LIFE)
    rec = record(clock)
    put(store, kept, rec, clock() + LIFE)
    store.delete(gone)
    assert store.load(gone) is None and store.load(kept) == rec
    store.delete(gone)                          # twice, or a key never seen: no error
    store.delete(new_key())
    assert store.count() == 1


# A user's sessions ----------------------------------------------------------

def test_sessions_of_lists_the_users_sessions_and_no_one_elses(store, clock):
    mine = {new_key(): record(clock, user_id=7, n=n) for n in range(2)}
    for key, rec in mine.items():
        put(store, key, rec, clock() + LIFE)
    sams = new_key()
    put(store, sams, record(clock, user_id=8), clock() + LIFE)
    put(store, new_key(), record(clock, user_id=None), clock() + LIFE)
    found = store.sessions_of(7)
    assert len(found) == 2 and dict(found) == mine
    assert dict(store.sessions_of(8)) == {sams: record(clock, user_id=8)}
    assert store.sessions_of(9) == []


def test_sessions_of_forgets_a_deleted_session(store, clock):
    gone, kept = new_key(), new_key()
    put(store, gone, record(clock), clock() + LIFE)
    put(store, kept, record(clock), clock() + LIFE)
    store.delete(gone)
    assert [key for key, _ in store.sessions_of(7)] == [kept]
    assert [key for key, _ in store.sessions_of(7)] == [kept]      # and stays pruned
    store.delete(kept)
    assert store.sessions_of(7) == []


def test_sessions_of_leaves_out_expired_sessions(store, clock, elapse):
    short, long = new_key(), new_key()
    put(store, short, record(clock), clock() + 10)
    put(store, long, record(clock), clock() + LIFE)
    elapse(10)
    assert [key for key, _ in store.sessions_of(7)] == [long]


# Housekeeping ---------------------------------------------------------------

def test_purge_expired_leaves_only_live_records(store, kind, clock, elapse):
    for _ in range(2):
        put(store, new_key(), record(clock), clock() + 10)
    live = new_key()
    rec = record(clock)
    put(store, live, rec, clock() + LIFE)
    elapse(10)
    assert store.purge_expired() == (2 if PURGE_REPORTS[kind] else 0)
    assert store.count() == 1 and store.load(live) == rec
    assert store.purge_expired() == 0


def test_count_counts_the_records_held(store, clock):
    assert store.count() == 0
    keys = [new_key() for _ in range(3)]
    for key in keys:
        put(store, key, record(clock), clock() + LIFE)
    assert store.count() == 3
    store.delete(keys[0])
    assert store.count() == 2


def test_ping_answers_true(store):
    assert store.ping() is True


def test_a_store_sees_no_key_of_another_namespace(store, other_store, clock):
    key = new_key()
    rec = record(clock, v=1)
    blob = put(store, key, rec, clock() + LIFE)
    assert other_store.load(key) is None
    assert other_store.sessions_of(7) == [] and other_store.count() == 0
    theirs = record(clock, v=2)
    assert other_store.replace(key, theirs, theirs.to_json(), clock() + LIFE,
                               expected=blob) == MISSING
    other_store.touch(key, rec, clock() + LIFE)
    assert other_store.load(key) is None and other_store.count() == 0
    put(other_store, key, theirs, clock() + LIFE)
    other_store.delete(key)
    assert store.load(key) == rec and dict(store.sessions_of(7)) == {key: rec}
    assert store.count() == 1


# The merging writer (sessions/merging.py) on every store ----------------------

class Failing:
    """The real store, whose compare-and-set fails as a store that went down."""

    def __init__(self, store):
        self.store = store

    def __getattr__(self, name):
        return getattr(self.store, name)

    def replace(self, *args, **kwargs):
        raise StoreUnavailable()


def writer_on(store, max_bytes=65536):
    return MergingWriter(store, Timeouts(idle=LIFE, absolute=10 * LIFE), max_bytes,
                         merge_timeout=5)


def change(key, base, clock, **changed):
    return Change(key, base, changed, set(), clock(), 'hobbit-browser/1.0', '127.0.0.1')


def test_a_queue_refused_in_part_is_written_whole_after_a_conflict(store, clock, elapse):
    """Two changes too large together on the version read, refused in part;
    then the compare-and-set conflicts and the version now stored (another
    process dropped a large key) takes both: neither request is told 413."""
    key = new_key()
    rec = record(clock, pad='x' * 30_000)
    put(store, key, rec, clock() + LIFE)
    read = store.load(key)
    elapse(1)
    theirs = successor(rec, clock)
    assert store.replace(key, theirs, theirs.to_json(), clock() + LIFE,
                         expected=read.source) == REPLACED
    batch = [change(key, read, clock, a='y' * 20_000), change(key, read, clock, b='y' * 20_000)]
    writer_on(store)._write_batch(0, batch)
    assert [(c.outcome, c.error) for c in batch] == [(REPLACED, None)] * 2
    assert store.load(key).data == {'a': 'y' * 20_000, 'b': 'y' * 20_000}


def test_a_queue_for_a_session_logged_out_meanwhile_writes_nothing(store, clock):
    key, _, read = read_then_deleted(store, clock)
    batch = [change(key, read, clock, a=1), change(key, read, clock, b=2)]
    writer_on(store)._write_batch(0, batch)
    assert [(c.outcome, c.error) for c in batch] == [(MISSING, None)] * 2
    assert store.load(key) is None and store.count() == 0


def test_a_store_down_fails_every_queued_change_with_a_503(store, clock):
    key = new_key()
    rec = record(clock)
    put(store, key, rec, clock() + LIFE)
    read = store.load(key)
    writer = writer_on(Failing(store))
    batch = [change(key, read, clock, a=1), change(key, read, clock, b=2)]
    writer._write_batch(0, batch)
    assert all(c.done and isinstance(c.error, StoreUnavailable) for c in batch)
    with pytest.raises(StoreUnavailable):
        writer.write(change(key, read, clock, c=3))
    assert store.load(key) == rec


def test_the_last_write_of_a_session_gone_is_not_kept(store, clock):
    """What this process stored last for a session is kept to write the next
    change onto; once the session is gone it is dropped (no logged-out
    session's data stays in the process)."""
    key = new_key()
    rec = record(clock)
    put(store, key, rec, clock() + LIFE)
    read = store.load(key)
    writer = writer_on(store)
    assert writer.write(change(key, read, clock, a=1)) == REPLACED
    assert any(slot and slot[0] == key for slot in writer._written)
    store.delete(key)
    assert writer.write(change(key, read, clock, b=2)) == MISSING
    assert not any(slot and slot[0] == key for slot in writer._written)
