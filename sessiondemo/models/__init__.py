"""Users database: engine, transaction-managed ``request.dbsession``.

The pyramid-cookiecutter-starter pattern: ``get_engine`` / ``get_session_factory``
/ ``get_tm_session``, with two test seams (``dbengine`` in the settings and
``app.dbsession`` in the environ) so tests inject a real engine instead of patching.

Two departures, both for requests that never touch this database (an
authenticated read, say): pyramid_tm begins a transaction only for the routes
whose views use it (``needs_transaction``), and ``request.tm`` and
``request.dbsession`` are reified on a ``Request`` class of our own rather than
added with ``add_request_method``, which makes Pyramid build a new request
class on every request (about a third of a bare view's cost here).
"""
import pyramid_tm
import zope.sqlalchemy
from pyramid.decorator import reify
from pyramid.request import Request as PyramidRequest
from pyramid.tweens import EXCVIEW
from sqlalchemy import engine_from_config, event
from sqlalchemy.orm import configure_mappers, sessionmaker

from ..config import require
from ..connections.sql import sqlite_pragmas
from .login_failure import LoginFailure  # noqa: F401
from .meta import Base, metadata  # noqa: F401
from .revoked_session import RevokedSession  # noqa: F401
from .user import Identity, User  # noqa: F401

configure_mappers()


def get_engine(settings, prefix='sqlalchemy.'):
    require(settings, prefix + 'url')
    engine = engine_from_config(settings, prefix)
    if engine.dialect.name == 'sqlite':
        # WAL lets the session store's own connection write while a request reads.
        event.listen(engine, 'connect', sqlite_pragmas(5000, foreign_keys=True))
    return engine


def get_session_factory(engine):
    factory = sessionmaker()
    factory.configure(bind=engine)
    return factory


def get_tm_session(session_factory, transaction_manager, request=None):
    dbsession = session_factory(info={'request': request})
    zope.sqlalchemy.register(dbsession, transaction_manager=transaction_manager)
    return dbsession


class Request(PyramidRequest):
    @reify
    def tm(self):
        return pyramid_tm.create_tm(self)

    @reify
    def dbsession(self):
        dbsession = self.environ.get('app.dbsession')     # test seam
        if dbsession is None:
            dbsession = get_tm_session(self.registry['dbsession_factory'], self.tm,
                                       request=self)
        return dbsession


def needs_transaction(request):
    """pyramid_tm's activate hook: a transaction only where the route's view
    uses the users database (routes.USERS_DB_ROUTES)."""
    # PATH_INFO as the server gave it: request.path_info raises on bad UTF-8
    # (/%ff), and every path of ours is ASCII.
    return request.environ.get('PATH_INFO') in request.registry.users_db_paths


def includeme(config):
    settings = config.get_settings()
    # pyramid_tm's default annotate_user reads request.authenticated_userid on
    # every request, which would load the session even on public endpoints that
    # never use it (and skew the "session tax" benchmark). Off on purpose.
    settings['tm.annotate_user'] = False
    settings['tm.manager_hook'] = pyramid_tm.explicit_manager
    settings['tm.activate_hook'] = needs_transaction
    # pyramid_tm's tween, without its includeme's add_request_method (see above).
    config.add_tween('pyramid_tm.tm_tween_factory', over=EXCVIEW)
    config.set_request_factory(Request)

    dbengine = settings.get('dbengine')
    if not dbengine:
        dbengine = get_engine(settings)
    config.registry['dbsession_factory'] = get_session_factory(dbengine)
    config.registry['dbengine'] = dbengine
