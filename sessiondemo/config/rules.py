"""The values the app refuses: short or example secrets anywhere, and in
production (``sessiondemo.production = true``) whatever would make it weak."""
import ipaddress
import math
from collections import Counter

from .objects import CookieSettings
from .readers import SettingsError, as_bool, as_int, as_text, require

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
    from ..sessions.cookies import COOKIE_NAME     # the cookie grammar lives there
    name = as_text(settings, 'session.cookie_name', 'sid')
    if not COOKIE_NAME.fullmatch(name):
        raise SettingsError(f'session.cookie_name: {name!r} is not a cookie name '
                            '(letters, digits and !#$%&\'*+-.^_`|~)')
    secure = as_bool(settings, 'session.cookie_secure', False)
    if production and not secure:
        raise SettingsError('session.cookie_secure: must be true in production')
    if name.startswith(('__Host-', '__Secure-')) and not secure:
        # A browser drops such a cookie unless it is Secure.
        raise SettingsError(f'session.cookie_secure: must be true for a cookie named {name}')
    return CookieSettings(name=name, secure=secure)


def networks(settings, key, default):
    """Space-separated networks (``10.0.0.0/8 ::1``) as ipaddress objects."""
    try:
        return tuple(ipaddress.ip_network(part, strict=False)
                     for part in as_text(settings, key, default).split())
    except ValueError as error:
        raise SettingsError(f'{key}: {error}') from None
