"""A client-side bound on a statement whose server never answers.

PostgreSQL's ``statement_timeout`` and ``connect_timeout`` cover a slow server;
a server that accepts bytes but never answers (a stopped process, whose kernel
still acknowledges them) defeats both. ``Watchdog`` bounds that wait on the
client by shutting the connection's socket down.
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
    """

    def __init__(self, timeout):
        self.timeout = timeout
        self._cond = threading.Condition()
        self._armed = {}            # token -> (deadline, fd)
        self._thread = None

    @contextmanager
    def guard(self, fd):
        token = object()
        with self._cond:
            self._armed[token] = (time.monotonic() + self.timeout, fd)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name='sql-store-watchdog',
                                                daemon=True)
                self._thread.start()
            elif len(self._armed) == 1:
                self._cond.notify()     # it sleeps without a deadline; later ones can wait
        fired = False
        try:
            yield
        finally:
            with self._cond:
                fired = self._armed.pop(token, None) is None
            if fired:
                raise StatementTimeout(f'no answer within {self.timeout} s')

    def _run(self):
        with self._cond:
            while True:
                now = time.monotonic()
                for token, (deadline, fd) in list(self._armed.items()):
                    if deadline <= now:
                        del self._armed[token]
                        self._shutdown(fd)
                waits = [deadline for deadline, _ in self._armed.values()]
                self._cond.wait(min(waits) - now if waits else None)

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
