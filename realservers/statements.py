"""Counting the SQL statements sent through an engine, where they land.

The app runs its per-request statements below SQLAlchemy (bare sqlite3 cursors;
libpq's prepared statements on PostgreSQL), which SQLAlchemy's events never
see; so the count comes from the database itself. SQLite: its own trace of the
statements it runs (``trace_sqlite``), on connections made after the call (it
empties the engine's pool): the engine's, and the ones beside them that run
the read-only statements (sessiondemo's ``sqlite_direct``). PostgreSQL: ``pg_stat_statements`` (PostgresServer loads it),
whose counts the server updates as each statement ends, before its client has
the answer.
"""
import os
import threading
import weakref
from collections import Counter

from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool

from sessiondemo.connections import sqlite_direct


def record_statements(engine, keep=lambda sql: True):
    """A list of the statements ``keep`` accepts, from now on. SQLite: in the
    order they ran. PostgreSQL: grouped by statement (``ServerStatements``)."""
    if engine.dialect.name == 'postgresql':
        return ServerStatements(engine, keep)
    statements = []
    trace_sqlite(engine, lambda sql: statements.append(sql) if keep(sql) else None)
    return statements


def trace_sqlite(engine, callback, direct=None):
    """``callback(sql)`` for every statement run on a SQLite ``engine``'s
    file from now on, by the engine's connections or a DirectConnection
    beside them (``direct(sql)`` for those, when given), for as long as the
    engine lives. Those in use are not used
    again (``dispose``: a new pool; the store drops its connections from the
    old one at each thread's next statement)."""
    def on_connect(dbapi_connection, connection_record):
        dbapi_connection.set_trace_callback(callback)

    event.listen(engine, 'connect', on_connect)
    database = engine.url.database
    if database and database != ':memory:':
        path = os.path.realpath(database)

        def on_open(opened_path, connection):
            if os.path.realpath(opened_path) == path:
                connection.trace(direct or callback)

        sqlite_direct.listen(on_open)
        weakref.finalize(engine, sqlite_direct.unlisten, on_open)
    engine.dispose()


class ServerStatements:
    """The statements PostgreSQL ran in the engine's database since the last
    ``clear()`` (or since it was made), as a list: each statement's normalized
    text once per run, grouped by statement. Every client of that database
    is counted, whichever process or connection sent it; a statement that
    failed is not (the server counts the ones that ran)."""

    QUERY = text('SELECT query, calls FROM pg_stat_statements WHERE toplevel AND dbid = '
                 '(SELECT oid FROM pg_database WHERE datname = current_database())')

    def __init__(self, engine, keep):
        self.keep = keep
        # A connection per reading: one held would not survive a restart of the server.
        self._engine = create_engine(engine.url, isolation_level='AUTOCOMMIT',
                                     poolclass=NullPool)
        self._lock = threading.Lock()       # the benchmarks' app reads it from threads
        self._base = self._totals()

    def _totals(self):
        with self._engine.connect() as connection:
            rows = connection.execute(self.QUERY).all()
        totals = Counter()
        for query, calls in rows:
            if self.keep(query):
                totals[query] += calls
        return totals

    def _since(self):
        with self._lock:
            now = self._totals()
        # A count below its base was reset (pg_stat_statements_reset, an
        # entry evicted): counted from zero.
        return {query: calls - self._base[query] if calls >= self._base.get(query, 0) else calls
                for query, calls in now.items()}

    def clear(self):
        with self._lock:
            self._base = self._totals()

    def __iter__(self):
        return iter([query for query, calls in self._since().items() for _ in range(calls)])

    def __len__(self):
        return sum(self._since().values())
