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
from sqlalchemy import (Column, Float, MetaData, String, Table, Text, bindparam, delete, func,
                        select, text, update)

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


c = sessions.c
LIVE = c.expires_at > bindparam('now')
COLUMNS = ('data', 'user_id', 'created', 'touched', 'expires_at', 'user_agent', 'ip')


class SqlStore:
    name = 'sql'

    def __init__(self, connection, clock):
        self.connection = connection          # connections.sql.SqlConnection
        self.bind = connection.bind
        self.clock = clock
        self._run = connection.run
        self._execute = connection.execute
        # The statements a request runs, built and compiled once.
        compile_ = connection.compile
        upsert = connection.insert(sessions).values(
            key=bindparam('key'), **{name: bindparam(name) for name in COLUMNS})
        self._load = compile_(select(c.data, c.touched).where(c.key == bindparam('key'), LIVE))
        self._save = compile_(upsert.on_conflict_do_update(
            index_elements=[c.key], set_={name: upsert.excluded[name] for name in COLUMNS}))
        self._replace = compile_(update(sessions).where(
            c.key == bindparam('key'), c.data == bindparam('expected'), LIVE).values(
            data=bindparam('data'), touched=bindparam('touched'),
            expires_at=bindparam('expires_at'), user_agent=bindparam('user_agent'),
            ip=bindparam('ip')))
        self._alive = compile_(select(c.key).where(c.key == bindparam('key'), LIVE))
        self._touch = compile_(update(sessions).where(c.key == bindparam('key'), LIVE).values(
            touched=bindparam('touched'), expires_at=bindparam('expires_at')))
        self._delete = compile_(delete(sessions).where(c.key == bindparam('key')))

    def load(self, key):
        row = self._execute(self._load, {'key': key, 'now': self.clock()}, fetch='one')
        if row is None:
            return None
        try:
            record = Record.from_json(row[0])
        except ValueError:
            return None
        record.touched = row[1]             # the column is kept in step by touch()
        return record

    def save(self, key, record, blob, expires_at):
        self._execute(self._save, dict(
            key=key, data=blob, user_id=None if record.user_id is None else str(record.user_id),
            created=record.created, touched=record.touched, expires_at=expires_at,
            user_agent=record.user_agent, ip=record.ip))

    def replace(self, key, record, blob, expires_at, expected):
        """Compare-and-set on the data the caller read: one UPDATE when it
        succeeds; one more SELECT, to tell a conflict from a deleted row, when
        it doesn't."""
        if expected is None:
            return MISSING
        now = self.clock()
        if self._execute(self._replace, dict(
                key=key, expected=expected, now=now, data=blob, touched=record.touched,
                expires_at=expires_at, user_agent=record.user_agent, ip=record.ip)) == 1:
            return REPLACED
        alive = self._execute(self._alive, {'key': key, 'now': now}, fetch='one')
        return CONFLICT if alive else MISSING

    def touch(self, key, record, expires_at):
        # Only a live row: a touch never revives an expired one awaiting the purge.
        self._execute(self._touch, {'key': key, 'now': self.clock(), 'touched': record.touched,
                                    'expires_at': expires_at})

    def delete(self, key):
        self._execute(self._delete, {'key': key})

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
