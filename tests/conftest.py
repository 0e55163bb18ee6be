"""Shared fixtures: a real users database, a controllable clock, the app per store.

Flat fixtures in the manner of the pyramid-cookiecutter-starter: settings go in
through the app factory's seams (``dbengine``, ``sessiondemo.clock``) so that
every test drives the real app against real stores, never a mock. Constants,
the clock and the WebTest client are plain code in helpers.py.
"""
import contextlib
import logging
import re
import shutil

import pytest
from sqlalchemy import create_engine

from realservers import PostgresServer, RedisCluster, RedisServer, serving
from sessiondemo import main
from sessiondemo.models import get_engine
from sessiondemo.scripts.initialize_db import upgrade

from .helpers import (CHROMIUM_ARGS, SECRET, SECRETS_SEEN, STORES, AuditLines, Clock, TestApp,
                      chromium_path, fresh_prefix)

# A store's settings come from the fixture named here (which may start a real server).
STORE_FIXTURES = {
    'memory': 'memory_store_settings',
    'cookie': 'cookie_store_settings',
    'cookie-encrypted': 'encrypted_cookie_store_settings',
    'redis': 'redis_store_settings',
    'redis-cluster': 'redis_cluster_store_settings',
    'sql-sqlite': 'sqlite_store_settings',
    'sql-postgresql': 'postgresql_store_settings',
}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A skipped test is a failed test here: every test must run, in CI too."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, 'wasxfail'):
        report.outcome = 'failed'
        report.longrepr = f'skipped tests are not allowed: {report.longrepr}'


class LogWatch(logging.Handler):
    """Every sessiondemo.* log record of the run, as it would be written."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        # The request id and any traceback too, as the ini files write them.
        self.setFormatter(logging.Formatter('%(name)s [%(request_id)s] %(message)s'))
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture(scope='session', autouse=True)
def no_secret_in_logs():
    """At the end of the run: no password, cookie value, session id or CSRF
    token that a TestApp saw appears in any log line (the audit's included,
    which INFO lets through for the whole run)."""
    watch = LogWatch()
    with listening('sessiondemo', watch):
        yield watch
    assert not logged_secrets(watch.lines), \
        f'secrets in the logs, e.g. {logged_secrets(watch.lines)[:3]}'


WORD = re.compile(r'[A-Za-z0-9_-]+')


def logged_secrets(lines):
    """The secrets seen that occur in ``lines``: the many id-like ones (ids,
    tokens, cookie parts) looked up among the lines' words, the few others
    (passwords) searched for in the whole text (a search each for tens of
    thousands of ids would take minutes)."""
    text = '\n'.join(lines)
    words = set(WORD.findall(text))
    found = []
    for secret in SECRETS_SEEN:
        bare = secret.rstrip('=')
        if WORD.fullmatch(bare):
            if bare in words:
                found.append(secret)
        elif secret in text:
            found.append(secret)
    return sorted(found)


@pytest.fixture
def audit():
    """The audit lines (sessiondemo.audit) written during the test, parsed."""
    with listening('sessiondemo.audit', AuditLines()) as lines:
        yield lines


@contextlib.contextmanager
def listening(name, handler):
    """``handler`` on logger ``name``, at INFO, for the block."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture
def live_server(app):
    """The app under waitress on a free loopback port, in a thread of this process."""
    with serving(app) as url:
        yield url


@pytest.fixture(scope='module')
def browser():
    """Debian's Chromium, headless, driven by Playwright (one per test module)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(),
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def clock():
    """The session machinery's clock, advanced by tests to cross timeouts."""
    return Clock()


@pytest.fixture(scope='session')
def db_template(tmp_path_factory):
    """A migrated SQLite users database, copied for each test."""
    path = tmp_path_factory.mktemp('db') / 'template.sqlite'
    engine = create_engine(f'sqlite:///{path}')
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def dbengine(tmp_path, db_template):
    """A fresh users database for this test (real SQLite, migrated by Alembic)."""
    path = tmp_path / 'users.sqlite'
    shutil.copy(db_template, path)
    engine = get_engine({'sqlalchemy.url': f'sqlite:///{path}'})
    yield engine
    engine.dispose()


@pytest.fixture
def memory_store_settings():
    return {'session.store': 'memory'}


@pytest.fixture
def cookie_store_settings():
    return {'session.store': 'cookie'}


@pytest.fixture
def encrypted_cookie_store_settings():
    return {'session.store': 'cookie', 'session.cookie.encrypt': 'true'}


@pytest.fixture(scope='session')
def redis_server(tmp_path_factory):
    """A real redis-server on a loopback port, for the whole test session."""
    with RedisServer(tmp_path_factory.mktemp('redis')) as server:
        yield server


@pytest.fixture(scope='session')
def redis_cluster(tmp_path_factory):
    """A real three-node Redis Cluster on loopback ports, for the whole test session."""
    with RedisCluster(tmp_path_factory.mktemp('redis-cluster')) as cluster:
        yield cluster


@pytest.fixture(scope='session')
def postgres_server():
    """A real PostgreSQL (initdb + pg_ctl) on a loopback port, migrated once."""
    with PostgresServer() as server:
        engine = create_engine(server.url)
        upgrade(engine)
        engine.dispose()
        yield server


@pytest.fixture
def redis_store_settings(redis_server):
    return {'session.store': 'redis', 'session.redis.url': redis_server.url,
            'session.redis.prefix': fresh_prefix()}


@pytest.fixture
def redis_cluster_store_settings(redis_cluster):
    return {'session.store': 'redis', 'session.redis.url': redis_cluster.url,
            'session.redis.cluster': 'true', 'session.redis.prefix': fresh_prefix()}


@pytest.fixture
def sqlite_store_settings():
    """The sessions table in the test's own users database (``dbengine``)."""
    return {'session.store': 'sql'}


@pytest.fixture
def postgresql_store_settings(postgres_server):
    """Sessions and login counts in PostgreSQL (users stay in SQLite), emptied first."""
    engine = create_engine(postgres_server.url)
    with engine.begin() as connection:
        connection.exec_driver_sql('TRUNCATE sessions, login_failures')
    engine.dispose()
    return {'session.store': 'sql', 'session.sql.url': postgres_server.url}


@pytest.fixture(params=STORES)
def store(request):
    """The name of the store under test; the contract suite runs once per store."""
    return request.param


@pytest.fixture
def store_settings(request, store):
    """Settings that select and reach the store under test."""
    return dict(request.getfixturevalue(STORE_FIXTURES[store]))


@pytest.fixture
def app_settings(store_settings, dbengine, clock):
    """The app's settings for one test; tests may change them before ``app`` is made."""
    settings = {
        'dbengine': dbengine,
        'sqlalchemy.url': str(dbengine.url),
        'session.secrets': SECRET,
        'sessiondemo.clock': clock,
        'auth.bcrypt_rounds': '4',
    }
    settings.update(store_settings)
    return settings


@pytest.fixture
def app(app_settings):
    """The WSGI app made by the real factory."""
    return main({}, **app_settings)


@pytest.fixture
def make_client(app):
    """A factory of independent clients (own cookie jars) of the same app."""
    def make():
        return TestApp(app, extra_environ={'HTTP_HOST': 'localhost',
                                           'REMOTE_ADDR': '127.0.0.1'})
    return make


@pytest.fixture
def make_app_client():
    """A client of a new app made from ``settings``; ``share_store_with`` gives
    it the same server-side store as another client's app (as two processes
    sharing Redis would have)."""
    def make(settings, share_store_with=None):
        settings = dict(settings)
        backend = share_store_with.app.registry.session_backend if share_store_with else None
        if getattr(backend, 'store', None) is not None:
            settings['sessiondemo.store_instance'] = backend.store
        return TestApp(main({}, **settings), extra_environ={'HTTP_HOST': 'localhost',
                                                          'REMOTE_ADDR': '127.0.0.1'})
    return make


@pytest.fixture
def testapp(make_client):
    """One client of the app under test."""
    return make_client()
