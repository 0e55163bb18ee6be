"""Users database: engine, transaction-managed ``request.dbsession``.

The pyramid-cookiecutter-starter pattern: ``get_engine`` / ``get_session_factory``
/ ``get_tm_session``, with two test seams (``dbengine`` in the settings and
``app.dbsession`` in the environ) so tests inject a real engine instead of patching.
"""
import zope.sqlalchemy
from sqlalchemy import engine_from_config, event
from sqlalchemy.orm import configure_mappers, sessionmaker

from ..config import require
from ..connections.sql import sqlite_pragmas
from .login_failure import LoginFailure  # noqa: F401
from .meta import Base, metadata  # noqa: F401
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


def includeme(config):
    settings = config.get_settings()
    # pyramid_tm's default annotate_user reads request.authenticated_userid on
    # every request, which would load the session even on public endpoints that
    # never use it (and skew the "session tax" benchmark). Off on purpose.
    settings['tm.annotate_user'] = False
    settings['tm.manager_hook'] = 'pyramid_tm.explicit_manager'

    config.include('pyramid_tm')

    dbengine = settings.get('dbengine')
    if not dbengine:
        dbengine = get_engine(settings)
    session_factory = get_session_factory(dbengine)
    config.registry['dbsession_factory'] = session_factory
    config.registry['dbengine'] = dbengine

    def dbsession(request):
        dbsession = request.environ.get('app.dbsession')
        if dbsession is None:
            dbsession = get_tm_session(session_factory, request.tm, request=request)
        return dbsession

    config.add_request_method(dbsession, reify=True)
