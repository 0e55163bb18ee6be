"""SQL store on SQLAlchemy 2: SQLite or PostgreSQL (psycopg 3), one row per session.

The table (migration 0002_sessions) keys each row by the SHA-256 of the session
id, which the core passes as ``key``; the id itself is never stored. Each
operation is exactly one statement: a read is one ``SELECT`` by key, a touch
one ``UPDATE`` of ``touched``/``expires_at`` (not of the data, so it never
clobbers a concurrent save), a save one ``INSERT ... ON CONFLICT DO UPDATE``.

Its statements run through ``connections.sql.SqlConnection`` (shared with the
login throttle): each on an autocommit connection of its own, since the session
is saved after pyramid_tm has committed, bounded by ``session.store_timeout``,
and every database error a 503.
"""
from sqlalchemy import (Column, Float, MetaData, String, Table, Text, delete, func, select,
                        text, update)

from .interfaces import CONFLICT, MISSING, REPLACED
from .record import Record

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


class SqlStore:
    name = 'sql'

    def __init__(self, connection, clock):
        self.connection = connection          # connections.sql.SqlConnection
        self.bind = connection.bind
        self.clock = clock
        self._run = connection.run
        self._insert = connection.insert

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
        # Only a live row: a touch never revives an expired one awaiting the purge.
        statement = update(sessions).where(
            sessions.c.key == key, sessions.c.expires_at > self.clock()).values(
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


def make_store(app_settings, connections):
    return SqlStore(connections.sql(), app_settings.clock)
