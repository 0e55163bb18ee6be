from datetime import datetime, timezone
from typing import NamedTuple

from sqlalchemy import Column, DateTime, Integer, String, Unicode

from .meta import Base


def _utcnow():
    return datetime.now(timezone.utc)


class Identity(NamedTuple):
    """Who is logged in: what every authenticated request needs, nothing more,
    and the one shape in which the API shows a user. Views that change the
    user load the ORM ``User`` through ``request.dbsession``."""
    id: int
    username: str
    session_epoch: int

    def as_json(self):
        return {'id': self.id, 'username': self.username}


class User(Base):
    __tablename__ = 'users'

    id = Column(Integer, primary_key=True)
    username = Column(Unicode(64), nullable=False, unique=True)
    password_hash = Column(String(128), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False, default=_utcnow)
    # Bumped to revoke every session of the user at once (log out everywhere
    # else, password change): a session remembers the epoch it was made in and
    # stops authenticating when it is behind. The cookie store's only lever.
    session_epoch = Column(Integer, nullable=False, default=0, server_default='0')

    @property
    def identity(self):
        return Identity(self.id, self.username, self.session_epoch)
