"""Reaching a SQL database (SQLite or PostgreSQL) for the session store and the
login throttle: one engine, one outage wrapper, one upsert.

Why connections of their own, not the request's transaction: the session is
saved by a tween after pyramid_tm has committed the request's transaction, and
a failed login's count must survive the rollback of its 401. So every
statement runs on an AUTOCOMMIT connection (``run``): each one is its own
transaction, with no ``BEGIN``/``COMMIT`` round trips around it.

On PostgreSQL (psycopg 3) the request's statements go straight to libpq (``libpq.py``):
prepared once per connection, each run by one blocking ``PQexecPrepared`` with
the GIL released once, where psycopg's cursor releases it around every step
(send, wait, receive, fetch) and runs ~60 µs of Python around them. On a
SQLite file they run with the GIL kept (``sqlite_direct.py``), where sqlite3
releases it around every call: the reads, and the writes whose commit does
not wait for the disk (``session.sql.synchronous`` normal).

Timeouts (``session.store_timeout``): PostgreSQL gets ``connect_timeout`` and a
server-side ``statement_timeout``, SQLite a busy timeout (on the store's
statements and transactions, even on the users engine's connections, whose
ORM waits 5 s), and a ``Watchdog`` bounds a server that never answers. Every
database error becomes ``StoreUnavailable`` (503); after one that hung, the
breaker (breaker.py) refuses every statement at once but one probe per
``session.store_probe_interval``.
SQLite giving up on another writer's lock is not a hang: the database
answered, and its readers (WAL) go on, so it opens no breaker.
"""
import functools
import itertools
import logging
import math
import threading
from time import perf_counter

from sqlalchemy import create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from ..config import SettingsError
from ..errors import StoreUnavailable
from ..timing import record_call
from . import sqlite_direct
from .breaker import Breaker
from .watchdog import StatementTimeout, Watchdog

log = logging.getLogger(__name__)

# INSERT ... ON CONFLICT, per dialect: the one upsert every SQL counter and store uses.
UPSERT = {'postgresql': postgresql.insert, 'sqlite': sqlite.insert}


def sqlite_pragmas(busy_ms, foreign_keys=False):
    """A connect listener: WAL (readers don't block the writer) and a busy timeout."""
    def on_connect(dbapi_connection, connection_record):
        cursor = dbapi_connection.cursor()
        cursor.execute('PRAGMA journal_mode=WAL')
        cursor.execute(f'PRAGMA busy_timeout={int(busy_ms)}')
        if foreign_keys:
            cursor.execute('PRAGMA foreign_keys=ON')
        cursor.close()
    return on_connect


def set_busy_timeout(connection, busy_ms):
    """A SQLite DBAPI connection's lock waits: at most ``busy_ms`` from now on."""
    connection.execute(f'PRAGMA busy_timeout={int(busy_ms)}')


# session.sql.synchronous -> SQLite's PRAGMA synchronous, in WAL mode:
# 'full' syncs the log to the disk at every commit (~350 µs a write here);
# 'normal' only at checkpoints: a commit survives the app's crash, and may be
# rolled back by the machine's (a power cut), the database intact either way.
SYNCHRONOUS = {'normal': 1, 'full': 2}


def store_connection_setup(connection, busy_ms, synchronous):
    """Once per connection of the store's own (``execute``'s, SQLite)."""
    set_busy_timeout(connection, busy_ms)
    connection.execute(f'PRAGMA synchronous={SYNCHRONOUS[synchronous]}')


def bounded_lock_wait(connection, busy_ms, work):
    """``work()`` on a pooled SQLite ``connection`` (the users engine's,
    perhaps) whose lock waits are bounded by ``busy_ms`` meanwhile, and by
    what they were before once it is done."""
    before = connection.execute('PRAGMA busy_timeout').fetchone()[0]
    if before == busy_ms:
        return work()
    set_busy_timeout(connection, busy_ms)
    try:
        return work()
    finally:
        set_busy_timeout(connection, before)


def waited_for_a_lock(error):
    """Whether ``error`` (a DBAPI error, or SQLAlchemy's around one) is SQLite
    giving up on another writer's lock: the database answered, busy; a 503
    for this statement, but no sign of a hung server for the breaker."""
    error = getattr(error, 'orig', None) or error
    code = getattr(error, 'sqlite_errorcode', None)
    return code is not None and code & 0xFF in sqlite_direct.LOCK_CODES


_NAMES = itertools.count(1)


class Statement:
    """A statement compiled once for one dialect (its parameters are named
    ``bindparam``s): its SQL text, how to hand its values to the driver, and
    the name it is prepared under (PostgreSQL)."""

    def __init__(self, statement, dialect):
        if uses_libpq(dialect):
            dialect = type(dialect)(paramstyle='numeric_dollar')     # libpq's $1, $2...
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.order = compiled.positiontup if compiled.positional else None
        self.op = statement_name(statement)
        self.name = f'sessiondemo_{next(_NAMES)}'.encode('ascii')

    def params(self, values):
        return tuple(values[name] for name in self.order) if self.order is not None else values


def uses_libpq(dialect):
    """PostgreSQL through psycopg 3: statements go by libpq.py; any other
    driver by its DBAPI cursor."""
    return dialect.name == 'postgresql' and dialect.driver == 'psycopg'


def run_on_sqlite(connection, direct, statement, values, fetch):
    """A statement on this thread's ``sqlite_direct`` connection (None: it
    could not be opened), and what it hands back on the sqlite3 cursor. The
    log's checkpoint, when a write there made it due, on the cursor's
    connection: it waits for the disk, with the GIL released."""
    if direct is not None:
        result = direct.run(statement, values, fetch)
        if result is not NotImplemented:
            if fetch is None and direct.checkpoint_due():
                checkpoint(connection)
            return result
    return run_on_cursor(connection, None, statement, values, fetch)


def checkpoint(connection):
    """As much of the log into the database as no reader needs (PASSIVE:
    no waiting); a failure leaves the log for the next one."""
    try:
        connection.execute('PRAGMA wal_checkpoint(PASSIVE)').fetchall()
    except connection.Error as error:       # sqlite3's own
        log.warning('SQLite checkpoint failed: %s', error)


def sqlite_file(url):
    """The file a SQLite URL names, or None (in memory, a ``file:`` URI)."""
    database = url.database
    if not database or database == ':memory:' or database.startswith('file:'):
        return None
    return database


def run_on_cursor(connection, state, statement, values, fetch):
    """A compiled statement on a DBAPI cursor (sqlite3): its first row
    (``fetch='one'``), every row (``'all'``) or the number of rows it changed."""
    cursor = connection.cursor()
    try:
        cursor.execute(statement.sql, statement.params(values))
        if fetch == 'one':
            return cursor.fetchone()
        if fetch == 'all':
            return cursor.fetchall()
        return cursor.rowcount
    finally:
        cursor.close()


def statement_name(statement):
    """What a statement does to which table, for timings and metrics:
    ``SELECT users``, ``INSERT sessions``."""
    verb = statement.__visit_name__.upper()
    table = getattr(statement, 'table', None)
    if table is None:
        froms = statement.get_final_froms() if hasattr(statement, 'get_final_froms') else ()
        table = froms[0] if froms else None
    name = getattr(table, 'name', None)
    return f'{verb} {name}' if name else verb


class SqlConnection:
    """An engine whose statements run autocommit, bounded, 503 on failure:
    ``execute`` for the statements a request runs (compiled once, on a DBAPI
    connection of the serving thread's own: SQLAlchemy's Connection and
    autocommit switching around a one-row SELECT cost thirty times the query
    on SQLite here, the pool's checkout and return alone four times),
    ``run`` for the rest."""

    def __init__(self, engine, timeout=1.0, key='session.sql.url', breaker=None,
                 synchronous='normal'):
        if engine.dialect.name not in UPSERT:
            raise SettingsError(f'{key}: unsupported database '
                                f'{engine.dialect.name!r} (sqlite or postgresql)')
        self.bind = engine          # to dispose of, when it is ours
        # AUTOCOMMIT on these connections only (the engine may be the users').
        self.engine = engine.execution_options(isolation_level='AUTOCOMMIT')
        self.insert = UPSERT[engine.dialect.name]
        # How the driver turns autocommit on: psycopg's flag, sqlite3's isolation level.
        self._autocommit = ('autocommit', True) if engine.dialect.name == 'postgresql' \
            else ('isolation_level', None)
        self._watchdog = Watchdog(timeout, 'sql-store-watchdog') \
            if engine.dialect.name == 'postgresql' else None
        # How a statement runs, and what that keeps beside each connection
        # (``_new_state``): the names prepared on it (libpq), a connection of
        # SQLite's own that keeps the GIL (sqlite_direct), nothing.
        if uses_libpq(engine.dialect):
            from . import libpq                     # psycopg only when it is used
            self._run_statement, self._setup, self._stale = \
                libpq.run_statement, libpq.setup, libpq.STALE
            self._new_state = set
        else:
            self._run_statement, self._setup, self._stale = run_on_cursor, None, ()
            self._new_state = lambda: None
        path = sqlite_file(engine.url) if engine.dialect.name == 'sqlite' else None
        if path is not None and sqlite_direct.available():
            self._run_statement = run_on_sqlite
            # Writes too, when their commit does not wait for the disk.
            self._new_state = functools.partial(sqlite_direct.DirectConnection.open, path,
                                                writes=synchronous == 'normal')
        self._busy_ms = None
        if engine.dialect.name == 'sqlite':
            # The users engine's connections wait 5 s for a lock; the store's
            # statements and transactions no longer than the store timeout.
            # Its own connections' commits wait for the disk as
            # ``synchronous`` says; the pooled ones' (``run``: the deny
            # list, the throttle) as SQLite's default, FULL.
            self._busy_ms = max(1, int(timeout * 1000))
            self._setup = functools.partial(store_connection_setup, busy_ms=self._busy_ms,
                                            synchronous=synchronous)
        self._local = threading.local()     # execute's connection, one per thread
        self.breaker = breaker or Breaker('sql')

    def compile(self, statement):
        return Statement(statement, self.bind.dialect)

    def execute(self, statement, values, fetch=None):
        """Run a ``Statement``; its first row (``fetch='one'``), every row
        (``'all'``) or the number of rows it changed. Each runs in a
        transaction of its own; StoreUnavailable on any failure (at once
        while the breaker is open)."""
        probe = self.breaker.admit()
        ok = None
        started = perf_counter()
        try:
            result = self._execute_once(statement, values, fetch)
            ok = True
        except StoreUnavailable as error:
            ok = None if waited_for_a_lock(error.__cause__) else False
            record_call('sql', statement.op, started, ok=False)
            raise
        finally:
            self.breaker.settle(probe, ok, started)
        record_call('sql', statement.op, started)
        return result

    def _execute_once(self, statement, values, fetch):
        dbapi_error = self.bind.dialect.loaded_dbapi.Error
        for attempt in (1, 2):
            connection = self._connection(dbapi_error)
            state = self._local.state
            try:
                if self._watchdog is None:
                    return self._run_statement(connection, state, statement, values, fetch)
                with self._watchdog.guard(connection.fileno()):
                    return self._run_statement(connection, state, statement, values, fetch)
            except (dbapi_error, StatementTimeout, OSError) as error:
                if self.bind.dialect.is_disconnect(error, connection, None) \
                        or getattr(error, 'sqlstate', None) in self._stale \
                        or isinstance(error, StatementTimeout):
                    self._drop(connection)      # never used again
                    if attempt == 1 and not isinstance(error, StatementTimeout):
                        # A server restarted under the connection (held here,
                        # or idle in the pool), or its prepared statements
                        # gone: once more on a new one.
                        continue
                self._unavailable(error)

    def _connection(self, dbapi_error):
        """This thread's own DBAPI connection. Made by the
        engine's pool (its connect listeners run: SQLite's pragmas), then
        detached from it and kept: a checkout and a return through the pool
        cost more than the statement itself (~45 µs against ~10 for the cookie
        store's SELECT on SQLite here). Autocommit is set once, for good: no
        BEGIN, COMMIT or rollback round trips, and the connection is no one
        else's. A disposed engine (a new pool) is never served by one held
        from before."""
        local = self._local
        held = getattr(local, 'connection', None)
        if held is not None and local.pool is self.bind.pool:
            return held
        if held is not None:
            self._drop(held)
        try:
            raw = self.bind.raw_connection()
        except (dbapi_error, SQLAlchemyError, OSError) as error:
            self._unavailable(error)
        raw.detach()
        connection = raw.dbapi_connection
        attribute, on = self._autocommit
        try:
            setattr(connection, attribute, on)
            if self._setup is not None:
                self._setup(connection)
        except (dbapi_error, OSError) as error:
            self._drop(connection)
            self._unavailable(error)
        state = self._new_state()
        local.connection, local.pool, local.state = connection, self.bind.pool, state
        return connection

    def _drop(self, connection):
        local = self._local
        local.connection = None
        state, local.state = getattr(local, 'state', None), None
        for closing in (connection, state):
            try:
                getattr(closing, 'close', lambda: None)()
            except Exception:       # already broken: nothing more to do
                pass

    def run(self, work):
        """``work(connection)`` on a connection of its own; StoreUnavailable on
        any failure. Recorded as one round trip (``TRANSACTION``), whatever
        ``work`` sends."""
        probe = self.breaker.admit()
        ok = None
        started = perf_counter()
        try:
            result = self._run_once(work)
            ok = True
        except StoreUnavailable as error:
            ok = None if waited_for_a_lock(error.__cause__) else False
            record_call('sql', 'TRANSACTION', started, ok=False)
            raise
        finally:
            self.breaker.settle(probe, ok, started)
        record_call('sql', 'TRANSACTION', started)
        return result

    def _run_once(self, work):
        for attempt in (1, 2):
            try:
                with self.engine.begin() as connection:
                    dbapi_connection = connection.connection.dbapi_connection
                    if self._busy_ms is not None:
                        return bounded_lock_wait(dbapi_connection, self._busy_ms,
                                                 lambda: work(connection))
                    if self._watchdog is None:
                        return work(connection)
                    with self._watchdog.guard(dbapi_connection.fileno()):
                        return work(connection)
            except DBAPIError as error:
                # A pooled connection that died with a restarted server: the
                # pool has discarded it; every statement run here is idempotent
                # or an upsert, so try once more on a fresh one.
                if attempt == 1 and error.connection_invalidated:
                    continue
                self._unavailable(error)
            except (StatementTimeout, SQLAlchemyError, OSError,
                    self.bind.dialect.loaded_dbapi.Error) as error:
                self._unavailable(error)

    @staticmethod
    def _unavailable(error):
        log.warning('store unavailable: %s', error)
        raise StoreUnavailable() from error


def make_engine(url, timeout, key='session.sql.url'):
    """An engine for a store on ``url`` whose every wait is bounded by ``timeout``."""
    ms = max(1, int(timeout * 1000))
    options = {'pool_timeout': timeout, 'pool_pre_ping': False}
    if url.startswith('postgresql'):
        options['connect_args'] = {
            # libpq counts whole seconds (psycopg waits at least 2).
            'connect_timeout': max(1, math.ceil(timeout)),
            'options': f'-c statement_timeout={ms}',
        }
    try:
        engine = create_engine(url, **options)
    except (ArgumentError, ImportError) as error:
        raise SettingsError(f'{key}: {error}') from None
    if engine.dialect.name == 'sqlite':
        event.listen(engine, 'connect', sqlite_pragmas(ms))
    return engine


def connect(session_settings, users_url, users_engine=None, breaker=None):
    """The SQL connection the session store and the throttle share: on
    ``session.sql.url``, or on the users database when that is not set (the
    users engine itself when one is given, with connections of our own)."""
    url = session_settings.sql_url
    timeout = session_settings.store_timeout
    synchronous = session_settings.sql_synchronous
    if users_engine is not None and (not url or url == users_url):
        return SqlConnection(users_engine, timeout, breaker=breaker, synchronous=synchronous)
    url = url or users_url
    if not url:
        raise SettingsError('sqlalchemy.url: required setting is missing')
    key = session_settings.sql_url_key
    return SqlConnection(make_engine(url, timeout, key), timeout, key, breaker, synchronous)
