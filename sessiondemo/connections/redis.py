"""Reaching Redis (one server or a Redis Cluster) for the session store and the
login throttle: one redis-py client, one timeout, one outage wrapper.

Every command gives up after ``session.store_timeout`` and is tried once: past
it, or on any other failure, the store is unavailable (503), never a 500 or a
hang. redis-py retries timeouts by default, with backoff, which would turn one
store timeout into several. After a command hangs the breaker (breaker.py)
refuses every command at once but one probe per ``session.store_probe_interval``.
"""
from time import perf_counter
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.exceptions import RedisError
from redis.retry import Retry

from ..config import SettingsError
from ..errors import StoreUnavailable
from ..timing import record_call
from .breaker import Breaker


class RedisConnection:
    def __init__(self, client, breaker=None):
        self.client = client
        self.cluster = isinstance(client, RedisCluster)
        self.breaker = breaker or Breaker('redis')

    def call(self, method, *args, **kwargs):
        """``method(*args, **kwargs)``, any failure (a timeout included) a 503.
        Each call is one round trip (a command, a script or a pipeline),
        recorded in the request's timing. Refused at once while the breaker
        is open."""
        probe = self.breaker.admit()
        ok = None
        started = perf_counter()
        try:
            result = method(*args, **kwargs)
            ok = True
        except (RedisError, OSError) as error:
            ok = False
            record_call('redis', command_name(method), started, ok=False)
            raise StoreUnavailable() from error
        finally:
            self.breaker.settle(probe, ok, started)
        record_call('redis', command_name(method), started)
        return result

    def register_script(self, source):
        return self.client.register_script(source)


def command_name(method):
    """What a call sends, for timings and metrics: ``GET``, ``EVALSHA`` (a
    registered script), ``PIPELINE``."""
    name = getattr(method, '__name__', None)
    if name is None:
        return 'EVALSHA'
    return 'PIPELINE' if name == 'execute' else name.upper()


def make_client(url, timeout, cluster=False):
    """A redis-py client whose every command gives up after ``timeout`` seconds."""
    parts = urlsplit(url)
    if parts.scheme.endswith('+cluster'):       # redis+cluster://host:port
        cluster = True
        url = urlunsplit(parts._replace(scheme=parts.scheme[:-len('+cluster')]))
    options = dict(socket_timeout=timeout, socket_connect_timeout=timeout,
                   retry=Retry(NoBackoff(), 0))
    if cluster:
        return RedisCluster.from_url(url, **options)
    return redis.Redis.from_url(url, **options)


def connect(session_settings, breaker=None):
    settings = session_settings.redis
    try:
        client = make_client(settings.url, session_settings.store_timeout, settings.cluster)
    except (RedisError, OSError) as error:
        # The cluster client asks a node for the slot map when it is made.
        raise StoreUnavailable() from error
    except ValueError as error:
        raise SettingsError(f'session.redis.url: {error}') from None
    return RedisConnection(client, breaker)
