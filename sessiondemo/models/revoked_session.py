from sqlalchemy import Column, Float, String

from .meta import Base


class RevokedSession(Base):
    """The cookie store's deny list: a cookie session that logged out or was
    revoked, by the SHA-256 of its id, until the cookie could have expired
    anyway (``sessiondemo-purge`` removes it then). Checked in the same
    lookup as the user's session epoch (security.EpochCheck)."""
    __tablename__ = 'revoked_sessions'

    key = Column(String(64), primary_key=True)
    expires_at = Column(Float(precision=53), nullable=False, index=True)
