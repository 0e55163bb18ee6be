"""Settings: environment mapping and typed readers that fail with one line.

Every module reads its own settings in its ``includeme`` through the readers
below, so a missing or bad value stops start-up with a ``SettingsError`` that
names the key; ``sessiondemo.main`` turns it into a one-line exit.
"""
import os

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


class SettingsError(ValueError):
    """A setting is missing or has a bad value; the message names the key."""


def require(settings, key):
    value = settings.get(key)
    if value is None or str(value).strip() == '':
        raise SettingsError(f'{key}: required setting is missing')
    return str(value).strip()


def as_int(settings, key, default, minimum=None):
    raw = settings.get(key, default)
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise SettingsError(f'{key}: expected an integer, got {raw!r}') from None
    if minimum is not None and value < minimum:
        raise SettingsError(f'{key}: must be at least {minimum}, got {value}')
    return value


def as_float(settings, key, default, minimum=None):
    raw = settings.get(key, default)
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise SettingsError(f'{key}: expected a number, got {raw!r}') from None
    if minimum is not None and value < minimum:
        raise SettingsError(f'{key}: must be at least {minimum}, got {value}')
    return value


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


def secrets(settings, key='session.secrets'):
    """The signing keys, newest first; strict in production."""
    keys = require(settings, key).split()
    production = as_bool(settings, 'sessiondemo.production', False)
    for secret in keys:
        if len(secret.encode('utf-8')) < MIN_SECRET_BYTES:
            raise SettingsError(
                f'{key}: every secret must be at least {MIN_SECRET_BYTES} bytes')
        if production and secret.lower() in EXAMPLE_SECRETS:
            raise SettingsError(f'{key}: an example secret cannot be used in production')
    return keys


def apply_environment(settings):
    for variable, key in ENVIRONMENT.items():
        if os.environ.get(variable):
            settings.setdefault(key, os.environ[variable])
    return settings


def includeme(config):
    apply_environment(config.get_settings())
