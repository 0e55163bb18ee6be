"""One way to reach a store's server.

The session store and the login throttle that share a server share its client
or engine, its timeouts and its outage handling (a 503 ``store_unavailable``):
``Connections`` makes each at most once per app, when first asked for, each
with its circuit breaker (breaker.py) reporting to ``breaker_listeners``.
"""
from . import redis as redis_connection, sql as sql_connection
from .breaker import Breaker


class Connections:
    def __init__(self, app_settings, users_engine=None):
        self._settings = app_settings
        self._users_engine = users_engine
        self._redis = None
        self._sql = None
        self._users = None
        self.breaker_listeners = []     # (store, state) -> None: the audit's, the metrics'
        self.breakers = []

    def _breaker(self, store):
        session = self._settings.session
        # A failure that took (nearly) the whole timeout is a hang.
        breaker = Breaker(store, session.store_probe_interval, self.breaker_listeners,
                          hung_after=0.9 * session.store_timeout)
        self.breakers.append(breaker)
        return breaker

    def redis(self):
        """The ``RedisConnection`` on ``session.redis.url``."""
        if self._redis is None:
            self._redis = redis_connection.connect(self._settings.session,
                                                   self._breaker('redis'))
        return self._redis

    def users(self):
        """A ``SqlConnection`` on the users database (the cookie store's deny list)."""
        if self._users is None:
            self._users = sql_connection.SqlConnection(
                self._users_engine, self._settings.session.store_timeout, 'sqlalchemy.url',
                self._breaker('users'))     # named apart from the store's, in metrics
        return self._users

    def sql(self):
        """The ``SqlConnection`` on ``session.sql.url`` (default: the users database)."""
        if self._sql is None:
            self._sql = sql_connection.connect(self._settings.session,
                                               self._settings.database_url, self._users_engine,
                                               self._breaker('sql'))
        return self._sql


def includeme(config):
    # After .config and .models: the settings and the users engine.
    config.registry.connections = Connections(config.registry.app_settings,
                                              config.registry.get('dbengine'))
