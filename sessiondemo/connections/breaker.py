"""A circuit breaker per store server: a hung store fails fast.

Without it, a server that stops answering (SIGSTOP, a full disk, a network
partition that drops packets) costs every request that needs it the whole
``session.store_timeout``, and the threads it holds make the requests that
need no store queue behind them. With it, the first round trip that hangs
(fails after the store timeout) opens the breaker, and from then on every
round trip is refused at once (503 ``store_unavailable``) without touching the
server, except one probe at a time, let through every
``session.store_probe_interval`` seconds: its success closes the breaker, its
failure keeps it open for another interval.

A failure that comes at once (connection refused: a server that is down or
restarting) does not open it: it costs nothing to find out, and every request
tries, so a restarted server serves the very next one.

Ours rather than pybreaker's: pybreaker lets every caller through in its
half-open state (here only one may wait on a server that may still hang) and
counts in its own storage; this is the ~60 lines the connections need. The
closed state, every healthy request's path, costs an attribute read.
"""
import threading
from time import monotonic, perf_counter

from ..errors import StoreUnavailable

CLOSED, OPEN, HALF_OPEN = 'closed', 'open', 'half_open'


class Breaker:
    def __init__(self, store, probe_interval=0.5, listeners=(), hung_after=0.9):
        self.store = store                  # 'redis', 'sql', 'users': metrics, the audit
        self.probe_interval = probe_interval
        self.hung_after = hung_after        # seconds: a failure this slow is a hang
        self.listeners = listeners          # called with (store, state) on each change
        self.state = CLOSED
        self._opened_at = 0.0
        self._probing = False
        self._lock = threading.Lock()

    def admit(self):
        """Before a round trip: False (go ahead), True (go ahead: you are the
        probe), or StoreUnavailable at once while the breaker is open."""
        if self.state is CLOSED:
            return False
        with self._lock:
            if self.state is CLOSED:
                return False
            if self._probing or monotonic() - self._opened_at < self.probe_interval:
                raise StoreUnavailable()
            self._probing = True
            changed = self._change(HALF_OPEN)
        self._notify(changed)
        return True

    def settle(self, probe, ok, started):
        """After it (begun at ``started``, a ``perf_counter()``): ``ok`` True
        (answered), False (failed), None (an error that says nothing about
        the server)."""
        if not probe and (ok is None or (ok and self.state is CLOSED)
                          or (ok is False and perf_counter() - started < self.hung_after)):
            return
        changed = None
        with self._lock:
            if probe:
                self._probing = False
            if ok:
                changed = self._change(CLOSED)
            elif ok is False and (probe or self.state is CLOSED):
                # A straggler's failure, begun before the breaker opened, does
                # not push the next probe further away.
                self._opened_at = monotonic()
                changed = self._change(OPEN)
            elif probe:
                changed = self._change(OPEN)
        self._notify(changed)

    def _change(self, state):
        """The new state if it is one (None if not); under the lock."""
        if state is self.state:
            return None
        self.state = state
        return state

    def _notify(self, state):
        # Outside the lock: a log handler that blocks (a full pipe) must not
        # hold up every request that asks the breaker.
        if state is not None:
            for listener in self.listeners:
                listener(self.store, state)
