"""What the benchmarks run against: sessiondemo on each store, and the peers.

A target owns the processes its figures need (the app, a second app process,
its own redis-server) and answers the probes' questions about its store: how
many records it holds, how many bytes, how many round trips it has made, how
to flush or restart it, and how an attacker who knows the secret would forge
its cookie. ``None`` means the question does not apply to that store.
"""
import os
import secrets
import subprocess
import threading
import time

import redis
from sqlalchemy import create_engine, text

from realservers import RedisServer, find_binary, free_port

from .apps import child_env, pserve, venv_script, write_ini
from .client import get_json

BCRYPT_ROUNDS = 4     # bcrypt's minimum: logins in churn and probes cost ~1 ms, not ~250


def version_of(binary, args=('--version',)):
    try:
        out = subprocess.run([find_binary(binary), *args], capture_output=True, text=True,
                             timeout=10).stdout
    except Exception:            # noqa: BLE001 - a version is decoration, never fatal
        return binary
    return out.strip().splitlines()[0] if out.strip() else binary


_migrated = set()
_migrating = threading.Lock()     # Alembic keeps its context in module globals


def migrate(settings):
    """What ``sessiondemo-initdb INI`` does, with its own functions, in this process
    (a process start-up per app costs more than the migration)."""
    from sessiondemo.scripts.initialize_db import databases, upgrade
    with _migrating:
        for engine in databases(settings):
            url = engine.url.render_as_string(hide_password=False)
            if url not in _migrated:
                upgrade(engine)
                _migrated.add(url)
            engine.dispose()


class Target:
    kind = 'store'
    name = label = ''
    cookie_name = 'sid'
    server_side = True
    needs_register = True      # peers accept any username; sessiondemo needs a user
    scenarios = ('reader', 'writer', 'churn', 'anonymous', 'mix')      # of the locustfile
    redis = None               # a RedisServer when the target has one of its own

    def __init__(self, run_dir, context):
        self.dir = os.path.join(run_dir, 'targets', self.name)
        os.makedirs(self.dir, exist_ok=True)
        self.context = context           # the run's secret, password, PostgreSQL
        self.app = None

    # processes -----------------------------------------------------------
    def start_store(self):
        """What the store needs, before any app of this target starts."""
        if self.redis_needed():
            self.redis = RedisServer(os.path.join(self.dir, 'redis')).start()

    def start_app(self):
        self.app = self.make_app(free_port(), 'app')
        self.app.start()

    def stop_app(self):
        if self.app is not None:
            self.app.stop()

    def stop(self):
        """Everything this target started; safe to call more than once."""
        for part in (self.app, self.redis):
            if part is not None:
                part.stop()

    def redis_needed(self):
        return False

    def make_app(self, port, role, **overrides):
        raise NotImplementedError

    @property
    def base_url(self):
        return self.app.base_url

    # questions the probes ask ---------------------------------------------
    def records(self, app=None):
        return None

    def rss_bytes(self, app=None):
        import psutil
        return psutil.Process((app or self.app).pid).memory_info().rss

    def collect_garbage(self, app=None):
        """A full collection in the app before a memory reading: every app the
        runner starts answers ``GET /__bench__/gc`` (node only with --expose-gc)."""
        get_json((app or self.app).base_url + '/__bench__/gc')

    def store_bytes(self):
        if self.redis is not None:
            return self.redis_client().info('memory')['used_memory']
        return None

    def round_trips(self):
        """Cumulative store commands by name, or None when there is no remote store."""
        if self.redis is None:
            return None
        stats = self.redis_client().info('commandstats')
        return {key[len('cmdstat_'):]: value['calls'] for key, value in stats.items()
                if key != 'cmdstat_info'}          # our own INFO is not the app's

    def redis_client(self, db=0):
        # One client per database, kept: a new connection would add its own HELLO
        # to the command counts the round-trip probe reads.
        clients = self.__dict__.setdefault('_redis_clients', {})
        if db not in clients:
            clients[db] = redis.Redis.from_url(self.redis.url[:-1] + str(db), socket_timeout=5)
        return clients[db]

    def flush_store(self):
        if self.redis is None:
            return None
        self.redis_client().flushall()
        return 'FLUSHALL'

    def restart_store(self):
        if self.redis is None:
            return None
        self.redis.stop()
        self.redis.start()
        return 'redis-server restarted (no persistence, as configured)'

    def requirements(self):
        return []

    def forgeries(self, victim):
        return []

    def purge(self):
        return None

    def settings_report(self):
        return {}


class StoreTarget(Target):
    """sessiondemo under pserve with ``session.store`` = ``store``."""

    store = 'memory'

    def app_settings(self, role, **overrides):
        users = os.path.join(self.dir, f'users-{role}.sqlite')
        settings = {
            'sqlalchemy.url': f'sqlite:///{users}',
            'session.store': self.store,
            'session.secrets': self.context.secret,
            'auth.bcrypt_rounds': BCRYPT_ROUNDS,
            'session.touch_interval': 60,
        }
        settings.update(self.store_settings(role))
        settings.update(overrides)
        return settings

    def store_settings(self, role):
        return {}

    def make_app(self, port, role, users_role=None, **overrides):
        settings = self.app_settings(users_role or role, **overrides)
        ini = write_ini(os.path.join(self.dir, f'{role}.ini'), settings, port)
        migrate(settings)
        process = pserve(ini, os.path.join(self.dir, f'{role}.log'), port)
        process.ini, process.role = ini, role
        return process

    def twin(self):
        """A second app process with the same store and users database, another port."""
        return self.make_app(free_port(), 'twin', users_role='app')

    def stats(self, app=None):
        return get_json((app or self.app).base_url + '/__bench__/stats')

    def records(self, app=None):
        return self.stats(app)['records']

    def rss_bytes(self, app=None):
        return get_json((app or self.app).base_url + '/__bench__/stats?rss')['rss_bytes']

    def settings_report(self):
        return self.stats()['settings']

    def purge(self, app=None):
        result = subprocess.run([venv_script('sessiondemo-purge'), (app or self.app).ini],
                                capture_output=True, text=True, env=child_env(), timeout=120)
        return (result.stdout or result.stderr).strip()

    def forgeries(self, victim):
        """Cookies an attacker with the secret (and this source code) would try."""
        from sessiondemo.sessions.cookie import CookieBackend
        from sessiondemo.config import CookieSettings, Timeouts
        from sessiondemo.sessions.cookies import SessionCookie
        from sessiondemo.sessions.record import Record
        from sessiondemo.sessions.signing import Signer
        now = time.time()
        secrets_ = [self.context.secret]
        forged = []
        for epoch in range(3):       # the victim's session epoch is a small counter
            # What a login puts in the session: the user's id, name and epoch.
            record = Record(data={'auth.userid': victim['id'], 'auth.username': victim['username'],
                                  'auth.epoch': epoch},
                            created=now, touched=now, user_id=victim['id'])
            value = CookieBackend(secrets_, Timeouts(), SessionCookie(CookieSettings())).encode(
                secrets.token_urlsafe(16), record)
            forged.append((f'cookie-store payload naming user {victim["id"]} (epoch {epoch})',
                           value))
        # A server-side id must exist in the store: signing a fresh one names nobody.
        forged.append(('signed fresh session id',
                       Signer(secrets_, 'session id').sign(secrets.token_urlsafe(16))))
        return [(what, f'{self.cookie_name}={value}') for what, value in forged]


class MemoryTarget(StoreTarget):
    name, label, store = 'memory', 'memory', 'memory'

    def requirements(self):
        return []


class CookieTarget(StoreTarget):
    name, label, store = 'cookie', 'cookie', 'cookie'
    server_side = False

    def records(self, app=None):
        return 0                 # the server keeps nothing


class RedisTarget(StoreTarget):
    name, label, store = 'redis', 'redis', 'redis'

    def redis_needed(self):
        return True

    # The expiry probe's app gets a database of its own, so counts don't mix.
    def db(self, role):
        return 1 if role == 'expiry' else 0

    def store_settings(self, role):
        return {'session.redis.url': self.redis.url[:-1] + str(self.db(role))}

    def records(self, app=None):
        # DBSIZE counts keys Redis still holds, expired ones not yet reclaimed
        # included (SCAN would skip those); less the users' session indexes
        # ({u:<id>} keys, live as long as their users' sessions may be), which
        # are not session records.
        client = self.redis_client(self.db(getattr(app or self.app, 'role', 'app')))
        return client.dbsize() - sum(1 for _ in client.scan_iter(match='*{u:*', count=1000))

    def round_trips(self):
        commands = super().round_trips()
        counters = get_json(self.app.base_url + '/__bench__/stats?counters')
        return dict(commands, **{'round trips': counters['redis_round_trips']})

    def requirements(self):
        return [f'{version_of("redis-server")} (one per target here, no persistence)']


class SqlTarget(StoreTarget):
    store = 'sql'

    def round_trips(self):
        counters = get_json(self.app.base_url + '/__bench__/stats?counters')
        return {'statements': counters['sql_statements']}

    def engine(self):
        return create_engine(self.sql_url('app'))

    def sql_url(self, role):
        return f'sqlite:///{os.path.join(self.dir, f"users-{role}.sqlite")}'

    def flush_store(self):
        engine = self.engine()
        with engine.begin() as connection:
            connection.execute(text('DELETE FROM sessions'))
        engine.dispose()
        return 'DELETE FROM sessions'

    def requirements(self):
        return ['sessiondemo-initdb (migration) before the first start',
                'sessiondemo-purge on a schedule (cron): expired rows stay until it runs']


class SqliteTarget(SqlTarget):
    name, label = 'sql-sqlite', 'sql (SQLite)'

    def store_bytes(self):
        engine = self.engine()
        with engine.connect() as connection:
            size = connection.execute(text(
                "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name IN "
                "(SELECT name FROM sqlite_master WHERE tbl_name = 'sessions')")).scalar()
        engine.dispose()
        return size

    def restart_store(self):
        return None              # no server: the store is a file the app opens


class PostgresTarget(SqlTarget):
    name, label = 'sql-postgresql', 'sql (PostgreSQL)'

    def sql_url(self, role):
        return self.context.postgres_database(f'bench_{role}')

    def store_settings(self, role):
        return {'session.sql.url': self.sql_url(role)}

    def store_bytes(self):
        engine = self.engine()
        with engine.connect() as connection:
            size = connection.execute(text("SELECT pg_total_relation_size('sessions')")).scalar()
        engine.dispose()
        return size

    def restart_store(self):
        server = self.context.postgres
        server.stop_server()
        server.start_server()
        return 'PostgreSQL restarted (pg_ctl stop -m fast, start)'

    def requirements(self):
        # As realservers.PostgresServer starts it: writes are not flushed to disk,
        # and pg_stat_statements counts the statements (row 4).
        return [f'{version_of("postgres")} server (one for every target here, fsync off, '
                f'pg_stat_statements loaded)'] + super().requirements()


STORE_TARGETS = {cls.name: cls for cls in
                 (MemoryTarget, CookieTarget, RedisTarget, SqliteTarget, PostgresTarget)}
