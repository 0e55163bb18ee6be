"""Reaching Redis (one server or a Redis Cluster) for the session store and the
login throttle: one redis-py client, one timeout, one outage wrapper.

Every command gives up after ``session.store_timeout`` and is tried once: past
it, or on any other failure, the store is unavailable (503), never a 500 or a
hang. redis-py retries timeouts by default, with backoff, which would turn one
store timeout into several. After a command hangs the breaker (breaker.py)
refuses every command at once but one probe per ``session.store_probe_interval``.

The commands of a request's path (a session's GET, its compare-and-set and
touch scripts) go by ``command``: on a connection of the serving thread's own
(``Link``), packed and parsed by hiredis on the socket redis-py's
``Connection`` opened. The client and its pool around a command cost more CPU
here than the command itself: ~110 µs per GET through ``Redis.get`` against
~45 µs through the connection's ``send_command`` and ``read_response`` (pool
lock, health poll, retry wrapper, redis-py 8's observability hooks), and ~30
µs on the socket itself (CPU time, one thread, 20 interleaved rounds: 43 µs
against 30 at best). Under load the app's CPU is its throughput.

That connection's socket has no timeout: a watchdog (watchdog.py) shuts it
down when a command outlives ``session.store_timeout``. A socket with a
timeout polls before each send and each receive, and each of those system
calls releases the GIL: under waitress's threads the read served 511 req/s
with the timeout and 796 without it (wrk, same run, 8 interleaved rounds).
"""
import threading
from time import perf_counter
from urllib.parse import urlsplit, urlunsplit

import hiredis
import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse, NoScriptError, RedisError, ResponseError
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
        link = getattr(self._local, 'link', None)
        fresh = link is None
        started = perf_counter()
        try:
            if fresh:
                link = self._local.link = Link(self.client.connection_pool)
            watchdog = self._watchdog
            token = watchdog.arm(link.fd)
            try:
                reply = link.round_trip(hiredis.pack_command(args))
            finally:
                watchdog.disarm(token)
        except ResponseError:
            record_call('redis', args[0], started)
            raise
        except StatementTimeout as error:   # the watchdog shut the socket: never again
            self._drop(link)
            record_call('redis', args[0], started, ok=False)
            raise StoreUnavailable() from error
        except (RedisError, OSError) as error:
            self._drop(link)
            record_call('redis', args[0], started, ok=False)
            if not fresh and isinstance(error, (RedisConnectionError, ConnectionError)):
                # A connection the server closed while it sat idle (a
                # restart): once more on a new one. Never after a timeout,
                # which would double the wait on a server that hangs.
                return self._command(args)
            raise StoreUnavailable() from error
        record_call('redis', args[0], started)
        return reply

    def _drop(self, link):
        self._local.link = None
        if link is not None:
            link.connection.disconnect()

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


def reply_error(message):
    """An error reply, as the hiredis reader hands it back (not raised)."""
    if message.startswith('NOSCRIPT '):
        return NoScriptError(message[len('NOSCRIPT '):])
    return ResponseError(message)


class Link:
    """A serving thread's own connection to Redis.

    redis-py's ``Connection`` makes it (TCP, TLS or a Unix socket, AUTH and
    SELECT from the URL) with no socket timeout: the watchdog bounds each
    command instead. Commands then go straight on its socket: packed by
    hiredis, sent by one ``sendall``, the reply read into a buffer kept for
    the connection and parsed by a hiredis reader of our own. That is the
    whole of a command: redis-py's ``send_command`` and ``read_response``
    around the same system calls cost ~15 µs more per command here (its
    Python packer, which hiredis's replaces; health checks, push
    notifications and error wrapping that a per-thread RESP2 connection
    never needs).
    """
    __slots__ = ('connection', 'sock', 'fd', 'reader', 'buffer')

    def __init__(self, pool):
        self.connection = pool.connection_class(
            **dict(pool.connection_kwargs, socket_timeout=None))
        self.connection.connect()
        self.sock = self.connection._sock
        self.fd = self.sock.fileno()
        self.reader = hiredis.Reader(protocolError=InvalidResponse, replyError=reply_error)
        self.buffer = bytearray(65536)

    def round_trip(self, data):
        """One packed command sent, its reply read whole."""
        sock = self.sock
        sock.sendall(data)
        reader = self.reader
        reply = reader.gets()
        while reply is False:
            size = sock.recv_into(self.buffer)
            if not size:
                raise RedisConnectionError('Connection closed by server.')
            reader.feed(self.buffer, 0, size)
            reply = reader.gets()
        if isinstance(reply, ResponseError):
            raise reply
        return reply


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
