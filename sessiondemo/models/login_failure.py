from sqlalchemy import Column, Float, Integer, String

from .meta import Base


class LoginFailure(Base):
    """Failed password checks counted in one window (see throttle/), keyed
    ``user:<name>`` or ``addr:<address>``."""
    __tablename__ = 'login_failures'

    key = Column(String(200), primary_key=True)
    count = Column(Integer, nullable=False)
    window_end = Column(Float, nullable=False, index=True)
