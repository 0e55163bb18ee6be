"""Settings: read once, at start-up, into one frozen object per concern.

``includeme`` maps the environment into the settings (explicit settings win),
then ``read`` parses every key of the contract's settings table exactly once,
with the defaults listed below beside it, into ``registry.app_settings``; the
modules take the part they need from there and never re-read the dict. A
missing or bad value raises ``SettingsError`` naming the key, which
``sessiondemo.main`` turns into a one-line exit.
"""
import os

from .objects import (AppSettings, AuthSettings, CookieSettings,  # noqa: F401
                      ObserveSettings, RedisSettings, SessionSettings, Timeouts)
from .readers import (SettingsError, as_bool, as_choice, as_float, as_int,  # noqa: F401
                      as_text, clock, require)
from .rules import bcrypt_rounds, cookie_settings, networks, secrets

# Environment variables a deployment sets instead of writing secrets or URLs
# into an ini file (warehouse's pattern: explicit settings win via setdefault,
# so production.ini simply leaves these keys out).
ENVIRONMENT = {
    'SESSIONDEMO_SECRETS': 'session.secrets',
    'SESSIONDEMO_DATABASE_URL': 'sqlalchemy.url',
    'SESSIONDEMO_REDIS_URL': 'session.redis.url',
    'SESSIONDEMO_SESSION_SQL_URL': 'session.sql.url',
}

STORES = ('memory', 'cookie', 'redis', 'sql')
THROTTLE_STORES = ('auto', 'memory', 'sql', 'redis')


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
        store_probe_interval=as_float(settings, 'session.store_probe_interval', 0.5,
                                      minimum=0.01),
        memory_max_sessions=as_int(settings, 'session.memory.max_sessions', 100000, minimum=1),
        redis=read_redis(settings),
        sql_url=sql_url,
        sql_url_key='session.sql.url' if sql_url else 'sqlalchemy.url',
        sql_synchronous=as_choice(settings, 'session.sql.synchronous', 'normal',
                                  ('normal', 'full')),
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
        clock=clock(settings),
        observe=ObserveSettings(
            enabled=as_bool(settings, 'observe.enabled', True),
            metrics_allow_from=networks(settings, 'metrics.allow_from', '127.0.0.0/8 ::1')))


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
