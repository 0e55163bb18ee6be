"""Sessions: the factory chosen by ``session.store``, and where it is saved.

The seam between the app and where sessions live is ``interfaces.py``: a
server-side store implements ``interfaces.Store`` and ``ServerSideBackend``
(serverside.py) does everything else the contract asks; the cookie store is a
backend of its own (cookie.py) because it keeps nothing on the server. The
session object is session.py, a user's own sessions management.py, and the
save happens in tween.py.
"""
import importlib
from time import perf_counter

from pyramid.tweens import MAIN

from .. import timing

from .cookies import SessionCookie
from .management import user_sessions
from .serverside import ServerSideBackend
from .signing import Signer

# store name -> module with make_store(app_settings, connections); imported only
# when chosen, so the memory store needs neither redis-py nor a second database.
SERVER_SIDE_STORES = {
    'memory': 'sessiondemo.sessions.memory',
    'redis': 'sessiondemo.sessions.redisstore',
    'sql': 'sessiondemo.sessions.sqlstore',
}


def make_store(app_settings, connections, name=None):
    """The server-side store ``name`` (default: ``session.store``)."""
    module = importlib.import_module(SERVER_SIDE_STORES[name or app_settings.session.store])
    return module.make_store(app_settings, connections)


def make_backend(app_settings, connections, store=None):
    """The backend ``session.store`` names; ``store`` replaces the one it would make."""
    settings = app_settings.session
    cookie = SessionCookie(settings.cookie)
    if settings.store == 'cookie':
        from .cookie import CookieBackend
        from .revocation import CookieRevocation
        return CookieBackend(settings.secrets, settings.timeouts, cookie,
                             encrypt=settings.encrypt, clock=app_settings.clock,
                             revocation=CookieRevocation(connections.users(), app_settings.clock))
    if store is None:
        store = make_store(app_settings, connections)
    return ServerSideBackend(store, Signer(settings.secrets, 'session id'), settings.timeouts,
                             cookie, max_bytes=settings.max_bytes, clock=app_settings.clock,
                             merge_timeout=settings.store_timeout)


def timed(backend):
    """The session factory: ``backend(request)``, its time the request's
    ``timing.load``."""
    def load_session(request):
        started = perf_counter()
        try:
            return backend(request)
        finally:
            request_timing = timing.current()
            if request_timing is not None:
                request_timing.load += perf_counter() - started
    return load_session


def includeme(config):
    registry = config.registry
    # Test seams: a whole backend, or a store shared with another app (two
    # processes on one Redis, say).
    backend = registry.settings.get('sessiondemo.session_backend') or make_backend(
        registry.app_settings, registry.connections,
        store=registry.settings.get('sessiondemo.store_instance'))
    registry.session_backend = backend
    revocation = getattr(backend, 'revocation', None)
    if revocation is not None:
        # After .models: a commit that changes a user may revoke its cookies.
        revocation.watch(registry['dbsession_factory'])
    registry.user_sessions = user_sessions(backend)
    config.set_session_factory(timed(backend))
    # Below the exception view tween, so that errors while saving become
    # contract errors (503, 413) rather than escaping as a raw 500.
    config.add_tween('sessiondemo.sessions.tween.session_tween_factory', over=MAIN)
