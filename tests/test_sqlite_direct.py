"""The SQL store's statements on a SQLite file run on a connection of SQLite's
own, with the GIL kept (connections/sqlite_direct.py): the same rows and
counts as sqlite3's cursor; a write only when its commit does not wait for
the disk, the log's checkpoint and every lock still the cursor's."""
import os
import sqlite3

import pytest
from sqlalchemy import (Column, Float, Integer, LargeBinary, MetaData, String, Table, bindparam,
                        create_engine, select, text)

from realservers import trace_sqlite
from sessiondemo.connections.breaker import Breaker
from sessiondemo.connections.sql import SqlConnection, make_engine
from sessiondemo.errors import StoreUnavailable

metadata = MetaData()
things = Table('things', metadata, Column('id', Integer, primary_key=True), Column('name', String),
               Column('weight', Float), Column('raw', LargeBinary))
ROWS = [dict(id=-2 ** 63, name='', weight=-1.5e-300, raw=b''),
        dict(id=1, name='héllo \x00 wörld ✓ 𝄞', weight=1733512345.9876543, raw=b'\x00\xff\x01'),
        dict(id=2 ** 63 - 1, name=None, weight=None, raw=None)]
EVERY_ROW_FROM = select(things).where(things.c.id >= bindparam('low')).order_by(things.c.id)


class Traced:
    """The statements run on the engine's sqlite3 connections and on the
    direct ones, apart."""

    def __init__(self, engine):
        self.cursor, self.direct = [], []
        trace_sqlite(engine, self.cursor.append, self.direct.append)

    def clear(self):
        self.cursor.clear()
        self.direct.clear()


@pytest.fixture
def database(tmp_path):
    path = str(tmp_path / 'store.sqlite')
    engine = make_engine(f'sqlite:///{path}', 0.2)
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(things.insert(), ROWS)
    connection = SqlConnection(engine, timeout=0.2, breaker=Breaker('sql', hung_after=0.9 * 0.2))
    yield path, connection
    engine.dispose()


def direct_of(connection):
    """The serving thread's direct connection (made with its first statement)."""
    return connection._local.state


def test_a_read_runs_on_the_direct_connection_and_gives_what_sqlite3_gives(database):
    path, connection = database
    traced = Traced(connection.bind)
    read = connection.compile(EVERY_ROW_FROM)
    everything = connection.execute(read, {'low': -2 ** 63}, fetch='all')
    first = connection.execute(read, {'low': 0}, fetch='one')
    none = connection.execute(read, {'low': 2 ** 62}, fetch='one')
    last = connection.execute(read, {'low': 2 ** 63 - 1}, fetch='all')

    expected = sqlite3.connect(path).execute(read.sql, (-2 ** 63,)).fetchall()
    assert everything == expected == [tuple(row.values()) for row in ROWS]
    assert [type(value) for value in everything[1]] == [int, str, float, bytes]
    assert first == expected[1] and none == expected[2] and last == [expected[2]]
    assert len(traced.direct) == 4 and all('FROM things' in sql for sql in traced.direct)
    assert '-9223372036854775808' in traced.direct[0]      # traced with its values
    assert not [sql for sql in traced.cursor if 'things' in sql]


@pytest.mark.parametrize('synchronous', ['normal', 'full'])
def test_a_write_runs_there_only_when_its_commit_does_not_wait_for_the_disk(
        database, synchronous):
    """synchronous=NORMAL: a write runs on the direct connection and says how
    many rows it changed, as the cursor does. FULL (an fsync per commit):
    on the cursor. A write's rows (RETURNING) are the cursor's either way."""
    path, connection = database
    connection = SqlConnection(connection.bind, timeout=0.2, synchronous=synchronous)
    traced = Traced(connection.bind)
    rename = connection.compile(things.update().where(things.c.id == bindparam('id'))
                                .values(name=bindparam('name')))
    upsert = connection.compile(connection.insert(things).values(
        id=bindparam('id'), name=bindparam('name')).on_conflict_do_update(
        index_elements=[things.c.id], set_={'name': bindparam('name')}))
    assert connection.execute(rename, {'id': 1, 'name': 'Sam'}) == 1
    assert connection.execute(rename, {'id': 5, 'name': 'nobody'}) == 0
    assert connection.execute(upsert, {'id': 1, 'name': 'Ro\x00sie ✓ 𝄞'}) == 1
    assert connection.execute(upsert, {'id': 6, 'name': 'Merry'}) == 1
    returning = connection.compile(things.update().where(things.c.id == bindparam('id'))
                                   .values(name=bindparam('name')).returning(things.c.name))
    assert connection.execute(returning, {'id': 6, 'name': 'Pippin'}, fetch='one') == \
        ('Pippin',)
    # Not a row's change (DDL): the cursor's count, -1, not the last change's.
    assert connection.execute(connection.compile(text('CREATE TABLE more (n INTEGER)')), {}) == -1
    names = sqlite3.connect(path).execute('SELECT id, name FROM things WHERE id IN (1, 6)')
    assert names.fetchall() == [(1, 'Ro\x00sie ✓ 𝄞'), (6, 'Pippin')]

    pragma = connection.compile(text('PRAGMA synchronous'))
    assert connection.execute(pragma, {}, fetch='one') == \
        ((1,) if synchronous == 'normal' else (2,))         # the direct connection's own

    writes = ['UPDATE', 'UPDATE', 'INSERT', 'INSERT']
    on_cursor = [sql.split()[0] for sql in traced.cursor if 'things' in sql or 'more' in sql]
    on_direct = [sql.split()[0] for sql in traced.direct]
    if synchronous == 'normal':
        assert (on_direct, on_cursor) == (writes + ['PRAGMA'], ['UPDATE', 'CREATE'])
    else:
        assert (on_direct, on_cursor) == (['PRAGMA'], writes + ['UPDATE', 'CREATE'])


def test_the_log_is_checkpointed_on_the_cursor_not_with_the_gil_held(database):
    """The direct connection's commits never checkpoint (a WAL hook replaces
    SQLite's automatic one); once the log passes SQLite's 1000 pages, the
    next write's caller checkpoints it on the sqlite3 connection, and the
    log starts over instead of growing."""
    path, connection = database
    traced = Traced(connection.bind)
    rename = connection.compile(things.update().where(things.c.id == bindparam('id'))
                                .values(name=bindparam('name')))
    big = 'x' * 3000                # a page or so of log per write
    frames = []
    for n in range(1600):
        assert connection.execute(rename, {'id': 1, 'name': f'{n}{big}'}) == 1
        if n % 100 == 99:
            frames.append(os.path.getsize(path + '-wal') // 4120)
    checkpoints = [sql for sql in traced.cursor if 'wal_checkpoint' in sql]
    assert len(checkpoints) >= 1 and len(traced.direct) == 1600
    assert max(frames) < 1400, frames                  # started over after the checkpoint


def test_a_read_keeps_no_snapshot_and_sees_every_commit(database):
    """Each read is its own read transaction, ended with it: a checkpoint can
    empty the log at once, and a row committed meanwhile is read next time."""
    path, connection = database
    first = connection.compile(EVERY_ROW_FROM)
    assert connection.execute(first, {'low': -2 ** 63}, fetch='one') == tuple(ROWS[0].values())
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("UPDATE things SET name = 'changed' WHERE id = -9223372036854775808")
    busy, _, _ = other.execute('PRAGMA wal_checkpoint(TRUNCATE)').fetchone()
    assert busy == 0
    assert connection.execute(first, {'low': -2 ** 63}, fetch='one')[1] == 'changed'
    other.close()


def test_a_lock_is_waited_for_by_the_cursor_never_with_the_gil_held(tmp_path):
    """The direct connection waits for no lock (a busy timeout of 0): a read
    behind one goes back to sqlite3's cursor, which waits the store timeout
    with the GIL released and fails as a 503 that opens no breaker. Not in
    WAL mode, where each commit syncs whatever synchronous says, the writes
    are the cursor's."""
    path = str(tmp_path / 'rollback-journal.sqlite')
    engine = create_engine(f'sqlite:///{path}')        # not make_engine's: no WAL
    metadata.create_all(engine)
    with engine.begin() as setup:
        setup.exec_driver_sql('PRAGMA journal_mode=DELETE')   # readers wait for writers
    connection = SqlConnection(engine, timeout=0.2, breaker=Breaker('sql', hung_after=0.9 * 0.2))
    busy_timeout = connection.compile(text('PRAGMA busy_timeout'))
    assert connection.execute(busy_timeout, {}, fetch='one') == (0,)     # the direct one's
    assert connection._local.connection.execute('PRAGMA busy_timeout').fetchone() == (200,)

    traced = Traced(engine)
    delete = connection.compile(things.delete().where(things.c.id == bindparam('id')))
    assert connection.execute(delete, {'id': 1}) == 0
    assert [sql for sql in traced.cursor if 'things' in sql] and not traced.direct

    read = connection.compile(EVERY_ROW_FROM)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute('BEGIN EXCLUSIVE')
    try:
        assert direct_of(connection).run(read, {'low': 0}, 'all') is NotImplemented
        with pytest.raises(StoreUnavailable) as raised:
            connection.execute(read, {'low': 0}, fetch='all')
        assert isinstance(raised.value.__cause__, sqlite3.OperationalError)
    finally:
        writer.rollback()
        writer.close()
    assert connection.breaker.state == 'closed'
    assert connection.execute(read, {'low': 0}, fetch='all') == []
    engine.dispose()


def test_a_write_behind_a_lock_is_handed_to_the_cursor_without_waiting(database):
    path, connection = database
    delete = connection.compile(things.delete().where(things.c.id == bindparam('id')))
    connection.execute(delete, {'id': 5})
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute('BEGIN IMMEDIATE')
    try:
        assert direct_of(connection).run(delete, {'id': 1}, None) is NotImplemented
        with pytest.raises(StoreUnavailable):
            connection.execute(delete, {'id': 1})
    finally:
        writer.rollback()
        writer.close()
    assert connection.breaker.state == 'closed'
    assert connection.execute(delete, {'id': 1}) == 1


def test_a_failed_write_is_raised_as_sqlite3_would_and_never_run_again(database):
    """Not a lock: SQLite may have committed before it failed, so the cursor
    does not try it again. A 503, caused by sqlite3's exception with
    SQLite's code."""
    path, connection = database
    traced = Traced(connection.bind)
    insert = connection.compile(things.insert().values(id=bindparam('id'), name=bindparam('n')))
    with pytest.raises(StoreUnavailable) as raised:
        connection.execute(insert, {'id': 1, 'n': 'twice'})
    cause = raised.value.__cause__
    assert isinstance(cause, sqlite3.OperationalError) and 'UNIQUE' in str(cause)
    assert cause.sqlite_errorcode & 0xFF == sqlite3.SQLITE_CONSTRAINT
    assert [sql.split()[0] for sql in traced.direct] == ['INSERT']
    assert not [sql for sql in traced.cursor if 'things' in sql]


def test_a_statement_that_opens_a_transaction_leaves_none_open(database):
    """BEGIN is "read-only" to SQLite: run there, it would keep every read
    after it in one transaction (one old snapshot). It is rolled back and
    handed to the cursor; the reads after it stay the direct connection's,
    each its own."""
    path, connection = database
    begin = connection.compile(text('BEGIN'))
    read = connection.compile(EVERY_ROW_FROM)
    connection.execute(read, {'low': 0}, fetch='one')
    assert direct_of(connection).run(begin, {}, 'all') is NotImplemented
    assert direct_of(connection).run(read, {'low': 1}, 'one')[1] == ROWS[1]['name']
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("UPDATE things SET name = 'changed' WHERE id = 1")
    assert other.execute('PRAGMA wal_checkpoint(TRUNCATE)').fetchone()[0] == 0   # no snapshot
    assert direct_of(connection).run(read, {'low': 1}, 'one')[1] == 'changed'
    assert direct_of(connection).run(begin, {}, 'all') is NotImplemented    # not tried again
    other.close()


def test_named_parameters_are_the_cursors(tmp_path):
    path = str(tmp_path / 'named.sqlite')
    engine = create_engine(f'sqlite:///{path}', paramstyle='named')
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(things.insert(), ROWS)
    connection = SqlConnection(engine, timeout=0.2)
    traced = Traced(engine)
    read = connection.compile(EVERY_ROW_FROM)
    assert connection.execute(read, {'low': 0}, fetch='one')[0] == 1
    assert [sql for sql in traced.cursor if 'things' in sql] and not traced.direct
    engine.dispose()


def test_what_the_direct_connection_cannot_say_as_sqlite3_does_goes_to_the_cursor(database):
    """A text column that is not UTF-8 is sqlite3's error (a 503), and a value
    it would not bind (beyond 64 bits) sqlite3's OverflowError, as before."""
    path, connection = database
    with sqlite3.connect(path) as other:
        other.execute("UPDATE things SET name = CAST(x'ff' AS TEXT) WHERE id = 1")
    read = connection.compile(EVERY_ROW_FROM)
    connection.execute(read, {'low': 2 ** 63 - 1}, fetch='one')
    assert direct_of(connection).run(read, {'low': 0}, 'one') is NotImplemented
    with pytest.raises(StoreUnavailable) as raised:
        connection.execute(read, {'low': 0}, fetch='one')
    assert 'decode' in str(raised.value.__cause__)
    assert direct_of(connection).run(read, {'low': 2 ** 63}, 'one') is NotImplemented
    with pytest.raises(OverflowError):
        connection.execute(read, {'low': 2 ** 63}, fetch='one')


def test_the_direct_connection_goes_with_the_engine_pool_it_came_with(database):
    path, connection = database
    read = connection.compile(EVERY_ROW_FROM)
    connection.execute(read, {'low': 0}, fetch='one')
    before = direct_of(connection)
    connection.bind.dispose()
    connection.execute(read, {'low': 0}, fetch='one')
    assert direct_of(connection) is not before and before._handle is None


def test_a_file_uri_or_memory_database_stays_on_the_cursor(tmp_path):
    for url in ('sqlite://', f'sqlite:///file:{tmp_path}/uri.sqlite?uri=true'):
        engine = create_engine(url)
        connection = SqlConnection(engine, timeout=0.2)
        assert connection.execute(connection.compile(text('SELECT 1')), {}, fetch='one') == (1,)
        assert direct_of(connection) is None
        engine.dispose()
