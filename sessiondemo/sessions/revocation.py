"""How the cookie store revokes a cookie it cannot delete: in the users database.

- The user's session epoch: "log out everywhere else" and a password change
  bump it, and every cookie minted before is anonymous.
- A deny list: a cookie session that logged out, or whose handle was revoked,
  is listed by the SHA-256 of its id until it could have expired anyway
  (``sessiondemo-purge`` removes it then), so a copy of the cookie stops
  working at once, as on the server-side stores.

Both are checked in one indexed SELECT, compiled once and run on a pooled
DBAPI connection (``SqlConnection.execute``), on an authenticated request of
the cookie store whose answer this process does not already know.

What it knows: on a users database in a SQLite file (every process that uses
it is on this machine), a cookie found valid stays valid until something
revokes, and every revocation bumps a counter that all those processes share
(``Generation``: 8 bytes in ``<database>-revocations``, mapped into memory).
A request compares the counter (a memory read: no system call) and, while it
has not moved, trusts what this process found before under it. Each bump
comes after its revocation is committed, so a process that saw a counter saw
every revocation made before it. What bumps it: a denied id (``deny``), and
any commit that changed or deleted a user (its epoch, "log out everywhere
else", a password change) through the app's ORM sessions (``watch``). A
change made behind the app's back (SQL typed into the database) is seen by
the next bump, or at once after a restart.

Why: under waitress's threads, the SELECT's trip into SQLite releases the GIL
(twice: the statement's step, the row's fetch) and each release can cost a
context switch; the cookie store's read served 439 req/s with the SELECT on
every request and 1174 without it (wrk, same run, 8 interleaved rounds). On
PostgreSQL (other machines may revoke) every such request still asks.
"""
import fcntl
import mmap
import os
import threading
import weakref

from sqlalchemy import bindparam, delete, event, func, select

from ..models import RevokedSession, User

USERS, REVOKED = User.__table__, RevokedSession.__table__


_BUMPING = threading.Lock()
_GENERATIONS = weakref.WeakValueDictionary()


class Generation:
    """A counter shared by the processes on this machine through a mapped file."""

    SIZE = 8

    def __init__(self, path):
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < self.SIZE:
                os.ftruncate(fd, self.SIZE)          # zeros: a new counter
            # The map keeps a descriptor of its own, closed with it.
            self._map = mmap.mmap(fd, self.SIZE)
        finally:
            os.close(fd)

    @classmethod
    def for_engine(cls, engine):
        """The counter beside a SQLite file database, or None (another
        database: its revocations may come from other machines)."""
        url = engine.url
        if url.get_backend_name() != 'sqlite' or url.database in (None, '', ':memory:') \
                or url.database.startswith('file:'):
            return None
        path = os.path.realpath(url.database) + '-revocations'
        # One map per file in a process, however many apps use it.
        generation = _GENERATIONS.get(path)
        if generation is None:
            generation = _GENERATIONS[path] = cls(path)
        return generation

    def value(self):
        return self._map[:self.SIZE]

    def bump(self):
        """Called after a revocation is committed. Two bumps at once must both
        count (a lost one could leave a process trusting what it found between
        them): one lock for this process's threads (POSIX locks are the
        process's: its threads would not exclude each other), and a POSIX
        lock on the file between processes (unlike flock's, a forked child
        does not share its parent's)."""
        with _BUMPING:
            fd = os.open(self.path, os.O_RDWR)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX)      # released by the close
                count = int.from_bytes(self._map[:self.SIZE], 'little') + 1
                self._map[:self.SIZE] = (count % 2 ** 64).to_bytes(self.SIZE, 'little')
            finally:
                os.close(fd)


class CookieRevocation:
    QUERY = select(
        USERS.c.session_epoch,
        select(func.count()).where(REVOKED.c.key == bindparam('key')).scalar_subquery(),
    ).where(USERS.c.id == bindparam('userid'))
    KNOWN_MAX = 100_000         # sessions known valid, per process, before starting over

    def __init__(self, connection, clock):
        self.connection = connection          # connections.sql.SqlConnection, users database
        self.clock = clock
        self._check = connection.compile(self.QUERY)
        self.generation = Generation.for_engine(connection.bind)
        # (the counter's value, {(user id, epoch, key)}): replaced, never
        # emptied in place, so a thread holding the old pair is unaffected.
        self._known = (None, set())

    def still_valid(self, identity, key):
        """Whether the session ``key`` of ``identity`` is neither behind the
        user's epoch nor on the deny list (False when the user is gone)."""
        generation = self.generation.value() if self.generation is not None else None
        known_at, known = self._known
        entry = (identity.id, identity.session_epoch, key)
        if generation is not None and known_at == generation and entry in known:
            return True
        row = self.connection.execute(self._check, {'userid': identity.id, 'key': key},
                                      fetch='one')
        valid = row is not None and row[0] == identity.session_epoch and not row[1]
        if valid and generation is not None:
            # Read before the SELECT: a revocation committed since has moved it.
            if known_at != generation or len(known) >= self.KNOWN_MAX:
                known = set()
                self._known = (generation, known)
            known.add(entry)
        return valid

    def revoked(self):
        """Something was revoked and committed: every process asks again."""
        if self.generation is not None:
            self.generation.bump()

    def watch(self, session_factory):
        """Bump after every commit of ``session_factory``'s sessions that
        changed or deleted a user (the epoch, the name, the row). The
        listeners hold this object weakly: SQLAlchemy keeps them for as long as
        the process lives, and an app made and dropped (a test's) must not
        keep its engine and connections open through them."""
        this = weakref.ref(self)

        def after_flush(session, context):
            if any(isinstance(row, User) for row in (*session.dirty, *session.deleted)):
                session.info['revokes'] = True

        def after_commit(session):
            revocation = this()
            if session.info.pop('revokes', False) and revocation is not None:
                revocation.revoked()

        def after_rollback(session):
            session.info.pop('revokes', None)

        event.listen(session_factory, 'after_flush', after_flush)
        event.listen(session_factory, 'after_commit', after_commit)
        event.listen(session_factory, 'after_soft_rollback',
                     lambda session, previous: after_rollback(session))

    def deny(self, key, until):
        """List ``key`` as revoked until ``until`` (Unix seconds); idempotent."""
        statement = self.connection.insert(REVOKED).values(key=key, expires_at=until)
        statement = statement.on_conflict_do_nothing(index_elements=[REVOKED.c.key])
        self.connection.run(lambda connection: connection.execute(statement))
        self.revoked()

    def purge_expired(self):
        statement = delete(REVOKED).where(REVOKED.c.expires_at <= self.clock())
        return self.connection.run(lambda connection: connection.execute(statement).rowcount)
