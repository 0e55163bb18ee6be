"""SQL store on SQLAlchemy 2: SQLite or PostgreSQL (psycopg 3), one row per session.

The table (migration 0002_sessions) keys each row by the SHA-256 of the session
id, which the core passes as ``key``; the id itself is never stored. Each
operation is exactly one statement: a read is one ``SELECT`` by key, a touch
one ``UPDATE`` of ``touched``/``expires_at`` (not of the data, so it never
clobbers a concurrent save), a save one ``INSERT ... ON CONFLICT DO UPDATE``.

Why its own connection: the session is saved by a tween after pyramid_tm has
committed the request's transaction, so the store can't ride on it. It uses
``engine.begin()`` on an AUTOCOMMIT connection: each single statement is its own
transaction, and no ``BEGIN``/``COMMIT`` round trips surround it.

Timeouts (``session.store_timeout``): PostgreSQL gets ``connect_timeout`` and a
server-side ``statement_timeout``, SQLite a busy timeout. A server that
accepts bytes but never answers (a stopped process, whose kernel still
acknowledges them) defeats both; ``Watchdog`` bounds that wait on the client.
Every database error becomes ``StoreUnavailable`` (503).
"""
import logging
import math
import socket
import threading
import time
from contextlib import contextmanager

from sqlalchemy import (Column, Float, MetaData, String, Table, Text, create_engine,
                        delete, event, func, select, text, update)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from .. import config as cfg
from ..errors import StoreUnavailable
from .core import CONFLICT, MISSING, REPLACED, Record

log = logging.getLogger(__name__)

# Mirrors the migration; the migration is what creates it.
sessions = Table(
    'sessions', MetaData(),
    Column('key', String(64), primary_key=True),
    Column('data', Text, nullable=False),            # Record.to_json()
    Column('user_id', String(64)),                   # as text: any id type
    Column('created', Float(precision=53), nullable=False),
    Column('touched', Float(precision=53), nullable=False),
    Column('expires_at', Float(precision=53), nullable=False),
    Column('user_agent', String(256), nullable=False),
    Column('ip', String(64), nullable=False),
)

UPSERT = {'postgresql': postgresql.insert, 'sqlite': sqlite.insert}


class StatementTimeout(Exception):
    pass


class Watchdog:
    """Shuts a connection's socket down when its statement outlives ``timeout``.

    One thread for the whole store, armed and disarmed per statement under a
    lock (a few microseconds, no thread per statement). The shutdown happens
    while the lock is held, so once ``guard`` has left, the socket it guarded
    is never touched again (its descriptor may be reused).
    """

    def __init__(self, timeout):
        self.timeout = timeout
        self._cond = threading.Condition()
        self._armed = {}            # token -> (deadline, fd)
        self._thread = None

    @contextmanager
    def guard(self, fd):
        token = object()
        with self._cond:
            self._armed[token] = (time.monotonic() + self.timeout, fd)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name='sql-store-watchdog',
                                                daemon=True)
                self._thread.start()
            elif len(self._armed) == 1:
                self._cond.notify()     # it sleeps without a deadline; later ones can wait
        fired = False
        try:
            yield
        finally:
            with self._cond:
                fired = self._armed.pop(token, None) is None
            if fired:
                raise StatementTimeout(f'no answer within {self.timeout} s')

    def _run(self):
        with self._cond:
            while True:
                now = time.monotonic()
                for token, (deadline, fd) in list(self._armed.items()):
                    if deadline <= now:
                        del self._armed[token]
                        self._shutdown(fd)
                waits = [deadline for deadline, _ in self._armed.values()]
                self._cond.wait(min(waits) - now if waits else None)

    @staticmethod
    def _shutdown(fd):
        # The blocked read sees end-of-file and fails at once; the descriptor
        # stays open (and owned by the driver) until the pool discards it.
        try:
            sock = socket.socket(fileno=fd)
        except OSError:
            return
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        finally:
            sock.detach()


class SqlStore:
    name = 'sql'

    def __init__(self, engine, clock, timeout=1.0):
        self.bind = engine          # to dispose of, when it is ours
        # AUTOCOMMIT on this store's connections only (the engine may be shared).
        self.engine = engine.execution_options(isolation_level='AUTOCOMMIT')
        self.clock = clock
        self._watchdog = Watchdog(timeout) if engine.dialect.name == 'postgresql' else None
        if engine.dialect.name not in UPSERT:
            raise cfg.SettingsError(
                f'session.sql.url: unsupported database {engine.dialect.name!r} '
                f'(sqlite or postgresql)')
        self._insert = UPSERT[engine.dialect.name]

    def _run(self, work):
        """``work(connection)`` in its own connection; StoreUnavailable on any failure."""
        for attempt in (1, 2):
            try:
                with self.engine.begin() as connection:
                    if self._watchdog is None:
                        return work(connection)
                    with self._watchdog.guard(connection.connection.dbapi_connection.fileno()):
                        return work(connection)
            except DBAPIError as error:
                # A pooled connection that died with a restarted server: the
                # pool has discarded it; every statement here is idempotent, so
                # try once more on a fresh one.
                if attempt == 1 and error.connection_invalidated:
                    continue
                self._unavailable(error)
            except (StatementTimeout, SQLAlchemyError, OSError) as error:
                self._unavailable(error)

    @staticmethod
    def _unavailable(error):
        log.warning('session store unavailable: %s', error)
        raise StoreUnavailable() from error

    def load(self, key):
        query = select(sessions.c.data, sessions.c.touched).where(
            sessions.c.key == key, sessions.c.expires_at > self.clock())
        row = self._run(lambda connection: connection.execute(query).first())
        if row is None:
            return None
        try:
            record = Record.from_json(row.data)
        except ValueError:
            return None
        record.touched = row.touched        # the column is kept in step by touch()
        return record

    def save(self, key, record, blob, expires_at):
        values = dict(
            data=blob, user_id=None if record.user_id is None else str(record.user_id),
            created=record.created, touched=record.touched, expires_at=expires_at,
            user_agent=record.user_agent, ip=record.ip)
        statement = self._insert(sessions).values(key=key, **values)
        statement = statement.on_conflict_do_update(
            index_elements=[sessions.c.key],
            set_={name: statement.excluded[name] for name in values})
        self._run(lambda connection: connection.execute(statement))

    def replace(self, key, record, blob, expires_at, expected):
        """Compare-and-set on the data the caller read: one UPDATE when it
        succeeds; one more SELECT, to tell a conflict from a deleted row, when
        it doesn't."""
        if expected is None:
            return MISSING
        now = self.clock()
        statement = update(sessions).where(
            sessions.c.key == key, sessions.c.data == expected, sessions.c.expires_at > now,
        ).values(data=blob, touched=record.touched, expires_at=expires_at,
                 user_agent=record.user_agent, ip=record.ip)

        def work(connection):
            if connection.execute(statement).rowcount == 1:
                return REPLACED
            alive = connection.execute(select(sessions.c.key).where(
                sessions.c.key == key, sessions.c.expires_at > now)).first()
            return CONFLICT if alive else MISSING
        return self._run(work)

    def touch(self, key, record, expires_at):
        statement = update(sessions).where(sessions.c.key == key).values(
            touched=record.touched, expires_at=expires_at)
        self._run(lambda connection: connection.execute(statement))

    def delete(self, key):
        statement = delete(sessions).where(sessions.c.key == key)
        self._run(lambda connection: connection.execute(statement))

    def sessions_of(self, user_id):
        """[(key, record)] of the user's live sessions: one SELECT on the user_id index."""
        query = select(sessions.c.key, sessions.c.data, sessions.c.touched).where(
            sessions.c.user_id == str(user_id), sessions.c.expires_at > self.clock())
        rows = self._run(lambda connection: connection.execute(query).all())
        found = []
        for row in rows:
            try:
                record = Record.from_json(row.data)
            except ValueError:
                continue
            record.touched = row.touched
            found.append((row.key, record))
        return found

    def purge_expired(self):
        """Delete the rows past their expiry; how many."""
        statement = delete(sessions).where(sessions.c.expires_at <= self.clock())
        return self._run(lambda connection: connection.execute(statement).rowcount)

    def ping(self):
        self._run(lambda connection: connection.execute(text('SELECT 1')))
        return True

    def count(self):
        """Rows, expired ones included until purged (tests and benchmarks)."""
        query = select(func.count()).select_from(sessions)
        return self._run(lambda connection: connection.execute(query).scalar_one())


def _sqlite_pragmas(busy_ms):
    def on_connect(dbapi_connection, connection_record):
        cursor = dbapi_connection.cursor()
        cursor.execute('PRAGMA journal_mode=WAL')     # readers don't block the writer
        cursor.execute(f'PRAGMA busy_timeout={busy_ms}')
        cursor.close()
    return on_connect


def make_engine(settings, timeout):
    url = str(settings.get('session.sql.url') or '').strip()
    shared = settings.get('dbengine')
    if shared is not None and (not url or url == settings.get('sqlalchemy.url')):
        return shared           # test seam: the users engine, our own connections
    url = url or cfg.require(settings, 'sqlalchemy.url')
    key = 'session.sql.url' if settings.get('session.sql.url') else 'sqlalchemy.url'
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
        raise cfg.SettingsError(f'{key}: {error}') from None
    if engine.dialect.name == 'sqlite':
        event.listen(engine, 'connect', _sqlite_pragmas(ms))
    return engine


def make_store(settings, clock):
    timeout = cfg.as_float(settings, 'session.store_timeout', 1, minimum=0.01)
    return SqlStore(make_engine(settings, timeout), clock, timeout)
