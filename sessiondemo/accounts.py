"""Registering and authenticating users; shared by the JSON API and the pages.

What a username and a password may be is the document's rule (openapi.yaml's
``Username`` and ``Password``), checked before these run.
"""
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .errors import Conflict, InvalidCredentials
from .models import User


def find_user(dbsession, username):
    return dbsession.scalars(select(User).where(User.username == username)).one_or_none()


def register(request, username, password):
    dbsession = request.dbsession
    if find_user(dbsession, username) is not None:
        raise Conflict('That username is taken.')
    user = User(username=username,
                password_hash=request.registry.password_hasher.hash(password))
    try:
        with dbsession.begin_nested():
            dbsession.add(user)
            dbsession.flush()
    except IntegrityError:
        # Two registrations of one name at once: the unique constraint decides.
        raise Conflict('That username is taken.') from None
    return user


def authenticate(request, username, password):
    """The user, or InvalidCredentials; TooManyRequests past the throttle."""
    hasher = request.registry.password_hasher
    # Counted first: a refused attempt costs no users-database statement.
    with request.registry.login_throttle.attempt(username, request.client_addr) as attempt:
        user = find_user(request.dbsession, username)
        if not hasher.verify(password, user.password_hash if user else None):
            raise InvalidCredentials()
        attempt.succeeded()
    return user
