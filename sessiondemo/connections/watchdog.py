"""A client-side bound on a command whose server never answers.

PostgreSQL's ``statement_timeout`` and ``connect_timeout`` cover a slow server;
a server that accepts bytes but never answers (a stopped process, whose kernel
still acknowledges them) defeats both. ``Watchdog`` bounds that wait on the
client by shutting the connection's socket down.

Redis's per-thread connections (redis.py) use it too, in place of a socket
timeout: a socket with a timeout polls before every send and every receive,
two more system calls per command, each one releasing the GIL, and under a
threaded server each release can cost a context switch.
"""
import socket
import threading
import time
from contextlib import contextmanager


class StatementTimeout(Exception):
    pass


class Watchdog:
    """Shuts a connection's socket down when its statement outlives ``timeout``.

    One thread for the whole store, armed and disarmed per statement under a
    lock (a few microseconds, no thread per statement). The shutdown happens
    while the lock is held, so once ``guard`` has left, the socket it guarded
    is never touched again (its descriptor may be reused).

    Arming never wakes the thread (a wake-up per command would hand it the
    GIL once per command): every deadline is ``timeout`` after its arming,
    and the thread never sleeps longer than ``timeout``, so it is always
    awake before the earliest deadline it has not yet seen; then it sleeps
    until that deadline. A thread that finds nothing armed twice in a row
    ends; the next command starts another.
    """

    def __init__(self, timeout, name='store-watchdog'):
        self.timeout = timeout
        self.name = name
        # A plain lock under the condition: ``with`` on it is one C call,
        # where a Condition's ``__enter__`` is a Python frame (twice a command).
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._armed = {}            # token -> (deadline, fd)
        self._thread = None

    def arm(self, fd):
        """Before a statement on ``fd``: a token for ``disarm``."""
        token = object()
        with self._lock:
            self._armed[token] = (time.monotonic() + self.timeout, fd)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
        return token

    def disarm(self, token):
        """After it, however it ended: StatementTimeout if the socket was shut."""
        with self._lock:
            fired = self._armed.pop(token, None) is None
        if fired:
            raise StatementTimeout(f'no answer within {self.timeout} s')

    @contextmanager
    def guard(self, fd):
        token = self.arm(fd)
        try:
            yield
        finally:
            self.disarm(token)

    def _run(self):
        with self._cond:
            while True:
                now = time.monotonic()
                for token, (deadline, fd) in list(self._armed.items()):
                    if deadline <= now:
                        del self._armed[token]
                        self._shutdown(fd)
                waits = [deadline for deadline, _ in self._armed.values()]
                if waits:
                    self._cond.wait(min(waits) - now)
                    continue
                self._cond.wait(self.timeout)
                if not self._armed:
                    self._thread = None     # idle: the next guard starts another
                    return

    @staticmethod
    def _shutdown(fd):
        # The blocked read sees end-of-file and fails at once; the descriptor
        # stays open (and owned by the driver) until the pool discards it.
        try:
            sock = socket.socket(fileno=fd)
        except OSError:
            return
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        finally:
            sock.detach()
