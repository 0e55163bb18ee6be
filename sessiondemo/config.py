"""Settings: read once, at start-up, into one frozen object per concern.

``includeme`` maps the environment into the settings (explicit settings win),
then ``read`` parses every key of the contract's settings table exactly once,
with the defaults listed below beside it, into ``registry.app_settings``; the
modules take the part they need from there and never re-read the dict. A
missing or bad value raises ``SettingsError`` naming the key, which
``sessiondemo.main`` turns into a one-line exit.
"""
import math
import os
import time
from collections import Counter
from dataclasses import dataclass, field

from pyramid.util import DottedNameResolver

# Environment variables a deployment sets instead of writing secrets or URLs
# into an ini file (warehouse's pattern: explicit settings win via setdefault,
# so production.ini simply leaves these keys out).
ENVIRONMENT = {
    'SESSIONDEMO_SECRETS': 'session.secrets',
    'SESSIONDEMO_DATABASE_URL': 'sqlalchemy.url',
    'SESSIONDEMO_REDIS_URL': 'session.redis.url',
    'SESSIONDEMO_SESSION_SQL_URL': 'session.sql.url',
}

# Values that appear in this repository or its docs: never acceptable in production.
EXAMPLE_SECRETS = {
    'development-only-secret-do-not-use-in-production',
    'change-me', 'changeme', 'secret', 'example',
}
MIN_SECRET_BYTES = 32
# Production only: a secret must look random, not merely be long ('a' * 32 and
# 'abab...' are 32 bytes of nothing). Django asks for 5 distinct characters;
# here 8, and 64 bits by the counts of its characters (estimated_bits). 32
# random hex digits (128 bits) fall short of either about once in a million
# draws (measured); 43 characters of secrets.token_urlsafe(32), never.
MIN_SECRET_DISTINCT = 8
MIN_SECRET_BITS = 64
MIN_PRODUCTION_BCRYPT_ROUNDS = 12
STORES = ('memory', 'cookie', 'redis', 'sql')
THROTTLE_STORES = ('auto', 'memory', 'sql', 'redis')


class SettingsError(ValueError):
    """A setting is missing or has a bad value; the message names the key."""


# Readers --------------------------------------------------------------------

def require(settings, key):
    value = settings.get(key)
    if value is None or str(value).strip() == '':
        raise SettingsError(f'{key}: required setting is missing')
    return str(value).strip()


def as_text(settings, key, default):
    return str(settings.get(key) or default).strip() or default


def _number(settings, key, default, minimum, maximum, kind, noun):
    raw = settings.get(key, default)
    try:
        value = kind(str(raw).strip())
    except ValueError:
        raise SettingsError(f'{key}: expected {noun}, got {raw!r}') from None
    if minimum is not None and value < minimum:
        raise SettingsError(f'{key}: must be at least {minimum}, got {value}')
    if maximum is not None and value > maximum:
        raise SettingsError(f'{key}: must be at most {maximum}, got {value}')
    return value


def as_int(settings, key, default, minimum=None, maximum=None):
    return _number(settings, key, default, minimum, maximum, int, 'an integer')


def as_float(settings, key, default, minimum=None, maximum=None):
    return _number(settings, key, default, minimum, maximum, float, 'a number')


_TRUE = {'true', 'yes', 'on', '1'}
_FALSE = {'false', 'no', 'off', '0'}


def as_bool(settings, key, default):
    raw = settings.get(key, default)
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SettingsError(f'{key}: expected true or false, got {raw!r}')


def as_choice(settings, key, default, choices):
    value = str(settings.get(key, default)).strip()
    if value not in choices:
        raise SettingsError(
            f'{key}: unknown value {value!r} (choose one of {", ".join(choices)})')
    return value


def estimated_bits(secret):
    """What the secret's own character counts say it holds: its length times
    the Shannon entropy of its characters' frequencies (a rough upper bound
    of its real entropy: it sees repetition, not a pattern)."""
    counts = Counter(secret)
    return -sum(n * math.log2(n / len(secret)) for n in counts.values())


def secrets(settings, production, key='session.secrets'):
    """The signing keys, newest first; strict in production."""
    keys = require(settings, key).split()
    for secret in keys:
        if len(secret.encode('utf-8')) < MIN_SECRET_BYTES:
            raise SettingsError(
                f'{key}: every secret must be at least {MIN_SECRET_BYTES} bytes')
        if production and secret.lower() in EXAMPLE_SECRETS:
            raise SettingsError(f'{key}: an example secret cannot be used in production')
        if production and (len(set(secret)) < MIN_SECRET_DISTINCT
                           or estimated_bits(secret) < MIN_SECRET_BITS):
            raise SettingsError(
                f'{key}: a secret does not look random enough for production (make one '
                f'with: python -c "import secrets; print(secrets.token_urlsafe(32))")')
    return tuple(keys)


def bcrypt_rounds(settings, production, key='auth.bcrypt_rounds'):
    rounds = as_int(settings, key, 12, minimum=4, maximum=31)
    if production and rounds < MIN_PRODUCTION_BCRYPT_ROUNDS:
        raise SettingsError(
            f'{key}: must be at least {MIN_PRODUCTION_BCRYPT_ROUNDS} in production, got {rounds}')
    return rounds


def cookie_settings(settings, production):
    name = as_text(settings, 'session.cookie_name', 'sid')
    secure = as_bool(settings, 'session.cookie_secure', False)
    if production and not secure:
        raise SettingsError('session.cookie_secure: must be true in production')
    if name.startswith(('__Host-', '__Secure-')) and not secure:
        # A browser drops such a cookie unless it is Secure.
        raise SettingsError(f'session.cookie_secure: must be true for a cookie named {name}')
    return CookieSettings(name=name, secure=secure)


def clock(settings):
    # Test seam: a callable returning Unix seconds, passed in the settings.
    return DottedNameResolver().maybe_resolve(settings.get('sessiondemo.clock') or time.time)


# What the app runs on: the contract's settings table, one object per concern --

@dataclass(frozen=True)
class Timeouts:
    idle: int = 1800
    absolute: int = 86400
    touch_interval: int = 60

    def __post_init__(self):
        # A touch interval over half the idle timeout could let a session in
        # steady use expire between two touches: clamp it.
        object.__setattr__(self, 'touch_interval', min(self.touch_interval, self.idle // 2))


@dataclass(frozen=True)
class CookieSettings:
    name: str = 'sid'
    secure: bool = False
    path: str = '/'
    samesite: str = 'Lax'
    httponly: bool = True


@dataclass(frozen=True)
class RedisSettings:
    url: str = 'redis://127.0.0.1:6379/0'
    cluster: bool = False
    prefix: str = 'sessiondemo:'


@dataclass(frozen=True)
class SessionSettings:
    store: str = 'memory'
    secrets: tuple = ()
    cookie: CookieSettings = field(default_factory=CookieSettings)
    encrypt: bool = False                       # session.cookie.encrypt
    timeouts: Timeouts = field(default_factory=Timeouts)
    max_bytes: int = 65536
    store_timeout: float = 1.0
    memory_max_sessions: int = 100000
    redis: RedisSettings = field(default_factory=RedisSettings)
    sql_url: str = ''                           # '' = the users database
    sql_url_key: str = 'sqlalchemy.url'         # which key named it, for errors


@dataclass(frozen=True)
class AuthSettings:
    bcrypt_rounds: int = 12
    max_failures: int = 5
    failure_window: int = 900
    max_failures_per_address: int = 100
    throttle_store: str = 'memory'              # 'auto' resolved against session.store


@dataclass(frozen=True)
class AppSettings:
    session: SessionSettings
    auth: AuthSettings
    max_body_bytes: int = 262144                # http.max_body_bytes
    database_url: str = ''                      # sqlalchemy.url
    production: bool = False
    validate_responses: bool = False            # openapi.validate_responses (tests)
    clock: object = time.time


def read(settings):
    """Every setting, parsed once; SettingsError names the first bad key."""
    production = as_bool(settings, 'sessiondemo.production', False)
    store = as_choice(settings, 'session.store', 'memory', STORES)
    sql_url = as_text(settings, 'session.sql.url', '')
    session = SessionSettings(
        store=store,
        secrets=secrets(settings, production),
        cookie=cookie_settings(settings, production),
        encrypt=as_bool(settings, 'session.cookie.encrypt', False),
        timeouts=Timeouts(
            idle=as_int(settings, 'session.idle_timeout', 1800, minimum=2),
            absolute=as_int(settings, 'session.absolute_timeout', 86400, minimum=1),
            touch_interval=as_int(settings, 'session.touch_interval', 60, minimum=0)),
        max_bytes=as_int(settings, 'session.max_bytes', 65536, minimum=256),
        store_timeout=as_float(settings, 'session.store_timeout', 1, minimum=0.01),
        memory_max_sessions=as_int(settings, 'session.memory.max_sessions', 100000, minimum=1),
        redis=read_redis(settings),
        sql_url=sql_url,
        sql_url_key='session.sql.url' if sql_url else 'sqlalchemy.url',
    )
    throttle_store = as_choice(settings, 'auth.throttle_store', 'auto', THROTTLE_STORES)
    if throttle_store == 'auto':
        # Where the sessions' server is, so every process sees the same counts;
        # memory (one process) only beside the memory store.
        throttle_store = {'redis': 'redis', 'memory': 'memory'}.get(store, 'sql')
    auth = AuthSettings(
        bcrypt_rounds=bcrypt_rounds(settings, production),
        max_failures=as_int(settings, 'auth.max_failures', 5, minimum=1),
        failure_window=as_int(settings, 'auth.failure_window', 900, minimum=1),
        max_failures_per_address=as_int(settings, 'auth.max_failures_per_address', 100,
                                        minimum=0),
        throttle_store=throttle_store,
    )
    return AppSettings(
        session=session, auth=auth,
        max_body_bytes=as_int(settings, 'http.max_body_bytes', 262144, minimum=1024),
        database_url=as_text(settings, 'sqlalchemy.url', ''),
        production=production,
        validate_responses=as_bool(settings, 'openapi.validate_responses', False),
        clock=clock(settings))


def read_redis(settings):
    prefix = as_text(settings, 'session.redis.prefix', 'sessiondemo:')
    if '{' in prefix or '}' in prefix:
        # Braces in the prefix would become the Redis Cluster hash tag of every key.
        raise SettingsError('session.redis.prefix: must not contain { or }')
    return RedisSettings(url=as_text(settings, 'session.redis.url', RedisSettings.url),
                         cluster=as_bool(settings, 'session.redis.cluster', False),
                         prefix=prefix)


def apply_environment(settings):
    for variable, key in ENVIRONMENT.items():
        if os.environ.get(variable):
            settings.setdefault(key, os.environ[variable])
    return settings


def includeme(config):
    settings = apply_environment(config.get_settings())
    config.registry.app_settings = read(settings)
