"""The session factory, chosen by ``session.store``.

The seam between the app and where sessions live is narrow: a server-side
store implements ``load``, ``save``, ``touch``, ``delete``, ``purge_expired``
and ``ping`` on store keys (see ``memory.MemoryStore``, the reference), and
``ServerSideBackend`` does everything else the contract asks. The cookie store
is a backend of its own because it keeps nothing on the server.
"""
import importlib
import time

from pyramid.tweens import MAIN
from pyramid.util import DottedNameResolver

from .. import config as cfg
from .core import CookieSettings, ServerSideBackend, Timeouts
from .signing import Signer

# store name -> module with make_store(settings, clock); imported only when chosen,
# so the memory store needs neither redis-py nor a second database.
SERVER_SIDE_STORES = {
    'memory': 'sessiondemo.sessions.memory',
    'redis': 'sessiondemo.sessions.redisstore',
    'sql': 'sessiondemo.sessions.sqlstore',
}
STORES = ('memory', 'cookie', 'redis', 'sql')


def read_clock(settings):
    # Test seam: a callable returning Unix seconds, passed in the settings.
    clock = settings.get('sessiondemo.clock') or time.time
    return DottedNameResolver().maybe_resolve(clock)


def make_backend(settings):
    store_name = cfg.as_choice(settings, 'session.store', 'memory', STORES)
    secrets = cfg.secrets(settings)
    idle = cfg.as_int(settings, 'session.idle_timeout', 1800, minimum=2)
    timeouts = Timeouts(
        idle=idle,
        absolute=cfg.as_int(settings, 'session.absolute_timeout', 86400, minimum=1),
        touch_interval=cfg.as_int(settings, 'session.touch_interval', 60, minimum=0),
    )
    cookie = CookieSettings(
        name=str(settings.get('session.cookie_name', 'sid')).strip() or 'sid',
        secure=cfg.as_bool(settings, 'session.cookie_secure', False),
    )
    clock = read_clock(settings)
    # Read whatever the store, so a bad value fails now, not after a switch.
    max_bytes = cfg.as_int(settings, 'session.max_bytes', 65536, minimum=256)
    cfg.as_int(settings, 'session.memory.max_sessions', 100000, minimum=1)
    cfg.as_float(settings, 'session.store_timeout', 1, minimum=0.01)
    if store_name == 'cookie':
        from .cookie import CookieBackend
        return CookieBackend(secrets, timeouts, cookie, clock=clock,
                             encrypt=cfg.as_bool(settings, 'session.cookie.encrypt', False))
    store = settings.get('sessiondemo.store_instance')   # test seam: a shared store
    if store is None:
        module = importlib.import_module(SERVER_SIDE_STORES[store_name])
        store = module.make_store(settings, clock)
    return ServerSideBackend(
        store, Signer(secrets, 'session id'), timeouts, cookie, clock=clock,
        max_bytes=max_bytes)


def includeme(config):
    backend = config.registry.settings.get('sessiondemo.session_backend') \
        or make_backend(config.get_settings())
    config.registry.session_backend = backend
    config.set_session_factory(backend)
    # Below the exception view tween, so that errors while saving become
    # contract errors (503, 413) rather than escaping as a raw 500.
    config.add_tween('sessiondemo.sessions.core.session_tween_factory', over=MAIN)
