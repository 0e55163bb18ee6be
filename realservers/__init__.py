"""Real Redis, Redis Cluster and PostgreSQL servers on loopback ports, for a while.

Plain context managers with no pytest in them: the test fixtures (``tests/``)
and the benchmark runner (``benchmarks/``) both use them, and neither imports
the other. Each server finds its binaries (PATH, then Debian's
/usr/lib/postgresql/*/bin), listens on a free 127.0.0.1 port, is waited for by
polling a readiness check against a deadline (never a fixed sleep), and stops
only the processes it started, by pid.

    with RedisServer(directory) as server:
        server.url          # redis://127.0.0.1:<port>/0
        server.pause()      # SIGSTOP: an outage that keeps the socket open
        server.resume()

Not part of the installed distribution (setup.py excludes it): it is imported
from the repository root, which pytest and ``python -m benchmarks.run`` put on
``sys.path``.
"""
from .postgres import PostgresServer
from .process import ChildProcess, ServerError, find_binary, free_port, run, wait_until
from .redis_servers import RedisCluster, RedisServer
from .statements import record_statements, trace_sqlite
from .wsgi import serving

__all__ = ['ChildProcess', 'PostgresServer', 'RedisCluster', 'RedisServer', 'ServerError',
           'find_binary', 'free_port', 'record_statements', 'run', 'serving', 'trace_sqlite',
           'wait_until']
