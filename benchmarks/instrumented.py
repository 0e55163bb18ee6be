"""The app as the benchmarks serve it: sessiondemo unchanged, plus two bench paths.

The generated ini says ``use = call:benchmarks.instrumented:main``. Every request
still goes through ``sessiondemo.main``'s app; the wrapper answers only two paths
itself. ``GET /__bench__/stats`` tells the runner what a client cannot see: how
many records the store holds and the process RSS (``?rss``: the RSS alone).
``GET /__bench__/stats?counters`` gives the round trips: the SQL statements run
on the store's and the throttle's tables, counted by the database (SQLite's
trace of this process's connections, PostgreSQL's pg_stat_statements for the
store's database; the users database is not counted), and the Redis round
trips made through the app's redis-py client (its pool's connections counted).
``GET /__bench__/gc`` runs a full garbage collection before the memory probe's
readings. The cost on every other request is one membership test on the path,
the same on every endpoint, so it cancels out of the session tax.

SQLite's count starts at the first ``?counters`` reading (the round-trip probe
asks before its first request), not at start-up: SQLite traces through a Python
callback on every statement, ~60 µs of a read's ~320 in process, which the
apps that serve load (the locust scenarios before that probe, every app of the
interleaved rounds) would otherwise pay. It counts and keeps no statement text,
so it never grows the RSS that row 2 reads.
"""
import gc
import json
import re
import threading

from realservers import record_statements, trace_sqlite

from sessiondemo import main as sessiondemo_main

STORE_TABLES = re.compile(r'\b(sessions|login_failures)\b')
STATS_PATH = '/__bench__/stats'
GC_PATH = '/__bench__/gc'         # a full collection before a memory reading


class StatementCounter:
    def __init__(self):
        self.count = 0
        self._lock = threading.Lock()     # waitress runs requests in threads

    def __call__(self, *args):
        with self._lock:
            self.count += 1


class StoreStatements:
    """Statements on the store's tables (``STORE_TABLES``) since the first ``count()``:
    0 without a SQL store; PostgreSQL's counted by the server from start-up."""

    def __init__(self, engine):
        self.engine = engine
        self._server = None
        if engine is not None and engine.dialect.name == 'postgresql':
            self._server = record_statements(engine, lambda sql: STORE_TABLES.search(sql))
        self._counter = None
        self._lock = threading.Lock()

    def _traced(self, sql):
        if STORE_TABLES.search(sql):
            self._counter()

    def count(self):
        if self.engine is None:
            return 0
        if self._server is not None:
            return len(self._server)
        with self._lock:
            if self._counter is None:
                self._counter = StatementCounter()
                trace_sqlite(self.engine, self._traced)
        return self._counter.count


def rss_bytes():
    with open('/proc/self/statm') as statm:
        pages = int(statm.read().split()[1])
    import resource
    return pages * resource.getpagesize()


def settings_that_change_figures(registry):
    # Read from the running app, not from the ini, so the report says what ran.
    timeouts = getattr(registry.session_backend, 'timeouts', None)
    return {
        'auth.bcrypt_rounds': registry.password_hasher.rounds,
        'tm.annotate_user': registry.settings.get('tm.annotate_user'),
        'session.touch_interval': getattr(timeouts, 'touch_interval', None),
        'session.idle_timeout': getattr(timeouts, 'idle', None),
        # SQL on SQLite: whether a session write's commit waits for the disk.
        'session.sql.synchronous': registry.app_settings.session.sql_synchronous,
    }


def redis_client(store):
    """The app's own redis-py client: ``store.connection.client`` (a shared
    connection object), or ``store.client`` where the store holds it itself."""
    client = getattr(getattr(store, 'connection', None), 'client', None)
    return client if client is not None else store.client


def count_redis_round_trips(client, counter):
    """Count what this client sends: one packed send per command, or per pipeline.

    INFO commandstats (read by the runner) counts commands; a pipeline sends
    several in one round trip, so round trips are counted here, on the client.
    Only this client's pools make counting connections; redis-py itself is not
    patched, so a client the app does not use for sessions is not counted.
    """
    nodes = client.get_nodes() if hasattr(client, 'get_nodes') else None   # a cluster
    pools = ([node.redis_connection.connection_pool for node in nodes
              if node.redis_connection is not None] if nodes is not None
             else [client.connection_pool])
    for pool in pools:
        class Counted(pool.connection_class):
            def send_packed_command(self, *args, **kwargs):
                counter()
                return super().send_packed_command(*args, **kwargs)
        pool.connection_class = Counted
        # Connections made before (a ping at start-up) would not count: drop them.
        pool.disconnect()
        pool.reset()


def count_link_round_trips(connection, counter):
    """Count the commands sent on the serving threads' own connections
    (connections/redis.py's ``Link``: hiredis on the socket, past redis-py's
    ``send_packed_command``): one per ``RedisConnection._command``, which
    ``command`` looks up on every call (the store and the throttle keep
    ``command`` bound), wrapped on this one object, not its class. A cluster's
    commands go through the client instead, counted there."""
    if connection.cluster:
        return
    send = connection._command

    def counted(args):
        counter()
        return send(args)
    connection._command = counted


class RoundTrips:
    """The counters of ``?counters``, from its first reading on.

    Counting costs what it counts: SQLite's trace is a Python callback per
    statement, Redis's a Python frame per command. The apps that serve load
    never read them (the interleaved rounds, the locust scenarios before the
    round-trip probe), so they count nothing and pay nothing."""

    def __init__(self, backend):
        store = getattr(backend, 'store', None)       # None for the cookie store
        self.backend = backend
        # Counted by the database (the store runs its statements below
        # SQLAlchemy); the store's and the throttle's tables only, so that the
        # users database is not counted when it shares the engine.
        self.sql_statements = StoreStatements(getattr(store, 'bind', None))
        self.redis = StatementCounter()
        self._lock = threading.Lock()
        self._started = False

    def _start(self):
        if self.backend.name == 'redis':
            store = self.backend.store
            count_redis_round_trips(redis_client(store), self.redis)
            count_link_round_trips(store.connection, self.redis)

    def read(self):
        with self._lock:
            if not self._started:
                self._started = True
                self._start()
        return {'store': self.backend.name, 'sql_statements': self.sql_statements.count(),
                'redis_round_trips': self.redis.count}


def main(global_config, **settings):
    app = sessiondemo_main(global_config, **settings)
    backend = app.registry.session_backend
    store = getattr(backend, 'store', None)          # None for the cookie store
    round_trips = RoundTrips(backend)

    def stats(query):
        if query == 'counters':
            return round_trips.read()
        if query == 'rss':
            return {'rss_bytes': rss_bytes()}
        return {'store': backend.name, 'rss_bytes': rss_bytes(),
                'records': store.count() if hasattr(store, 'count') else 0,
                'settings': settings_that_change_figures(app.registry)}

    def wrapper(environ, start_response):
        path = environ.get('PATH_INFO')
        if path in (STATS_PATH, GC_PATH):
            figures = ({'collected': gc.collect()} if path == GC_PATH else
                       stats(environ.get('QUERY_STRING')))
            body = json.dumps(figures).encode('utf-8')
            start_response('200 OK', [('Content-Type', 'application/json'),
                                      ('Content-Length', str(len(body)))])
            return [body]
        return app(environ, start_response)

    wrapper.registry = app.registry
    return wrapper
