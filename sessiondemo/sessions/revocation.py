"""How the cookie store revokes a cookie it cannot delete: in the users database.

- The user's session epoch: "log out everywhere else" and a password change
  bump it, and every cookie minted before is anonymous.
- A deny list: a cookie session that logged out, or whose handle was revoked,
  is listed by the SHA-256 of its id until it could have expired anyway
  (``sessiondemo-purge`` removes it then), so a copy of the cookie stops
  working at once, as on the server-side stores.

Both are checked in one indexed SELECT on every authenticated request of the
cookie store, compiled once and run on a pooled DBAPI connection
(``SqlConnection.execute``).
"""
from sqlalchemy import bindparam, delete, func, select

from ..models import RevokedSession, User

USERS, REVOKED = User.__table__, RevokedSession.__table__


class CookieRevocation:
    QUERY = select(
        USERS.c.session_epoch,
        select(func.count()).where(REVOKED.c.key == bindparam('key')).scalar_subquery(),
    ).where(USERS.c.id == bindparam('userid'))

    def __init__(self, connection, clock):
        self.connection = connection          # connections.sql.SqlConnection, users database
        self.clock = clock
        self._check = connection.compile(self.QUERY)

    def still_valid(self, identity, key):
        """Whether the session ``key`` of ``identity`` is neither behind the
        user's epoch nor on the deny list (False when the user is gone)."""
        row = self.connection.execute(self._check, {'userid': identity.id, 'key': key},
                                      fetch='one')
        return row is not None and row[0] == identity.session_epoch and not row[1]

    def deny(self, key, until):
        """List ``key`` as revoked until ``until`` (Unix seconds); idempotent."""
        statement = self.connection.insert(REVOKED).values(key=key, expires_at=until)
        statement = statement.on_conflict_do_nothing(index_elements=[REVOKED.c.key])
        self.connection.run(lambda connection: connection.execute(statement))

    def purge_expired(self):
        statement = delete(REVOKED).where(REVOKED.c.expires_at <= self.clock())
        return self.connection.run(lambda connection: connection.execute(statement).rowcount)
