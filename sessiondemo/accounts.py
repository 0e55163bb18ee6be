"""Registering and authenticating users; shared by the JSON API and the pages."""
import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .errors import Conflict, InvalidCredentials, InvalidInput
from .models import User

USERNAME = re.compile(r'[A-Za-z0-9._@-]{3,64}')
PASSWORD_MIN, PASSWORD_MAX = 8, 1024


def validate_username(value):
    if not isinstance(value, str) or not USERNAME.fullmatch(value):
        raise InvalidInput('username must be 3-64 characters of A-Z a-z 0-9 . _ - @.')
    return value


def validate_password(value, field='password'):
    # len() counts code points, as the contract does; all of them are hashed.
    if not isinstance(value, str) or not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
        raise InvalidInput(f'{field} must be {PASSWORD_MIN}-{PASSWORD_MAX} characters.')
    return value


def read_credentials(body):
    """(username, password) from a dict of input, or InvalidInput."""
    if 'username' not in body or 'password' not in body:
        raise InvalidInput('username and password are required.')
    return validate_username(body['username']), validate_password(body['password'])


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
    throttle = request.registry.login_throttle
    throttle.check(username, request.client_addr)
    user = find_user(request.dbsession, username)
    hasher = request.registry.password_hasher
    if not hasher.verify(password, user.password_hash if user else None):
        throttle.failed(username, request.client_addr)
        raise InvalidCredentials()
    throttle.succeeded(username)
    return user
