"""Reaching Redis (one server or a Redis Cluster) for the session store and the
login throttle: one redis-py client, one timeout, one outage wrapper.

Every command gives up after ``session.store_timeout`` and is tried once: past
it, or on any other failure, the store is unavailable (503), never a 500 or a
hang. redis-py retries timeouts by default, with backoff, which would turn one
store timeout into several. After a command hangs the breaker (breaker.py)
refuses every command at once but one probe per ``session.store_probe_interval``.

The commands of a request's path (a session's GET, its compare-and-set and
touch scripts) go by ``command``: on a connection of the serving thread's own,
straight through redis-py's ``Connection`` (its protocol, and hiredis's parser
when installed). The client and its pool around a command cost more CPU here
than the command itself: ~110 µs per GET through ``Redis.get`` against ~45 µs on
the connection (pool lock, health poll, retry wrapper, redis-py 8's
observability hooks), and under load the app's CPU is its throughput.

That connection's socket has no timeout: a watchdog (watchdog.py) shuts it
down when a command outlives ``session.store_timeout``. A socket with a
timeout polls before each send and each receive, and each of those system
calls releases the GIL: under waitress's threads the read served 511 req/s
with the timeout and 796 without it (wrk, same run, 8 interleaved rounds).
"""
import threading
from time import perf_counter
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError
from redis.retry import Retry

from ..config import SettingsError
from ..errors import StoreUnavailable
from ..timing import record_call
from .breaker import Breaker
from .watchdog import StatementTimeout, Watchdog


class RedisConnection:
    def __init__(self, client, breaker=None, timeout=1.0):
        self.client = client
        self.cluster = isinstance(client, RedisCluster)
        self.breaker = breaker or Breaker('redis')
        self._local = threading.local()
        self._watchdog = Watchdog(timeout, 'redis-store-watchdog')

    def command(self, *args):
        """One command (``'GET', key``), its reply as Redis sent it (no
        response callbacks: bytes, ints, lists); any failure a 503, at once
        while the breaker is open. On this thread's own connection, or
        through the client on a cluster (which routes by slot)."""
        if self.cluster:
            return self.call(self.client.execute_command, *args)
        probe = self.breaker.admit()
        ok = None
        started = perf_counter()
        try:
            reply = self._command(args)
            ok = True
        except NoScriptError:           # the server answered: script() loads it
            ok = True
            raise
        except ResponseError as error:  # it answered, refusing (OOM, READONLY, NOPERM)
            ok = True
            raise StoreUnavailable() from error
        except StoreUnavailable:
            ok = False
            raise
        finally:
            self.breaker.settle(probe, ok, started)
        return reply

    def _command(self, args):
        connection = getattr(self._local, 'connection', None)
        fresh = connection is None
        if fresh:
            pool = self.client.connection_pool
            # Blocking once connected (connecting keeps its timeout): the
            # watchdog bounds each command instead.
            connection = self._local.connection = pool.connection_class(
                **dict(pool.connection_kwargs, socket_timeout=None))
        started = perf_counter()
        try:
            if connection._sock is None:
                connection.connect()
            with self._watchdog.guard(connection._sock.fileno()):
                connection.send_command(*args)
                reply = connection.read_response()
        except ResponseError:
            record_call('redis', args[0], started)
            raise
        except StatementTimeout as error:   # the watchdog shut the socket: never again
            connection.disconnect()
            record_call('redis', args[0], started, ok=False)
            raise StoreUnavailable() from error
        except (RedisError, OSError) as error:
            connection.disconnect()
            record_call('redis', args[0], started, ok=False)
            if not fresh and isinstance(error, RedisConnectionError):
                # A connection the server closed while it sat idle (a
                # restart): once more on a new one. Never after a timeout,
                # which would double the wait on a server that hangs.
                self._local.connection = None
                return self._command(args)
            raise StoreUnavailable() from error
        record_call('redis', args[0], started)
        return reply

    def script(self, script, keys, args):
        """A registered script by ``command('EVALSHA', ...)``; loaded first
        when the server lacks it (a restart, a SCRIPT FLUSH)."""
        if self.cluster:
            return self.call(script, keys=keys, args=args)
        try:
            return self.command('EVALSHA', script.sha, len(keys), *keys, *args)
        except NoScriptError:
            return self.call(script, keys=keys, args=args)

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
            record_call('redis', command_name(method, args), started, ok=False)
            raise StoreUnavailable() from error
        finally:
            self.breaker.settle(probe, ok, started)
        record_call('redis', command_name(method, args), started)
        return result

    def register_script(self, source):
        return self.client.register_script(source)


def command_name(method, args=()):
    """What a call sends, for timings and metrics: ``GET``, ``EVALSHA`` (a
    registered script), ``PIPELINE``."""
    name = getattr(method, '__name__', None)
    if name is None:
        return 'EVALSHA'
    if name == 'execute_command' and args:
        return str(args[0]).upper()
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
    return RedisConnection(client, breaker, session_settings.store_timeout)
