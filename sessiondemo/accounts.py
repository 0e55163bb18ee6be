"""Registering and authenticating users; shared by the JSON API and the pages.

What a username and a password may be is the document's rule (openapi.yaml's
``Username`` and ``Password``), checked before these run.
"""
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from . import audit
from .errors import Conflict, InvalidCredentials, TooManyRequests
from .models import User


def find_user(dbsession, username):
    return dbsession.scalars(select(User).where(User.username == username)).one_or_none()


def register(request, username, password):
    dbsession = request.dbsession
    if find_user(dbsession, username) is not None:
        audit.event(request, 'register', 'conflict', username=username)
        raise Conflict('That username is taken.')
    user = User(username=username,
                password_hash=request.registry.password_hasher.hash(password))
    try:
        with dbsession.begin_nested():
            dbsession.add(user)
            dbsession.flush()
    except IntegrityError:
        # Two registrations of one name at once: the unique constraint decides.
        audit.event(request, 'register', 'conflict', username=username)
        raise Conflict('That username is taken.') from None
    audit.after_save(request, 'register', 'success', user_id=user.id, username=username)
    return user


def authenticate(request, username, password):
    """The user, or InvalidCredentials; TooManyRequests past the throttle."""
    hasher = request.registry.password_hasher
    # Counted first: a refused attempt costs no users-database statement.
    try:
        with request.registry.login_throttle.attempt(username, request.client_addr) as attempt:
            user = find_user(request.dbsession, username)
            if not hasher.verify(password, user.password_hash if user else None):
                raise InvalidCredentials()
            attempt.succeeded()
    except InvalidCredentials:
        # One line for an unknown user and a wrong password alike.
        audit.event(request, 'login', 'failure', username=username)
        raise
    except TooManyRequests:
        audit.event(request, 'login', 'throttled', username=username)
        raise
    audit.after_save(request, 'login', 'success', user_id=user.id, username=username)
    return user
