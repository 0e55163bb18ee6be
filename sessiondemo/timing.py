"""What a request spends on its session, measured as it goes.

Every request gets a ``RequestTiming`` (``request.timing``): the seconds spent
loading the session, checking the identity (beyond the load: the cookie
store's revocation check) and saving it, and each round trip to a store's
server (``Call``: a Redis command or a SQL statement, the throttle's and the
deny list's included; the memory store makes none). ``connections/`` records
the round trips, which see no request: they find the request's timing through
``current()``, set by observe.py's tween for the thread serving it.

Read by the ``Server-Timing`` header on every response (browser devtools show
it), by the "inside your session" page, and by whatever counts requests.
The cost: a few ``perf_counter`` calls per request.
"""
import threading
from collections import namedtuple
from time import perf_counter

# One round trip: which server ('redis', 'sql'), what was sent ('GET',
# 'SELECT sessions', ...), how long it took, and whether it answered.
Call = namedtuple('Call', 'store op seconds ok')

_local = threading.local()


class RequestTiming:
    __slots__ = ('load', 'identity', 'save', 'calls')

    def __init__(self):
        self.load = self.identity = self.save = 0.0     # seconds
        self.calls = []

    @property
    def store_seconds(self):
        return sum(call.seconds for call in self.calls)

    def header(self):
        """The ``Server-Timing`` value: milliseconds, per the W3C format."""
        calls = self.calls
        if not (calls or self.load or self.identity or self.save):
            return UNTOUCHED        # a request that never asked for its session
        return HEADER % (self.load * 1000, self.identity * 1000, self.save * 1000,
                         self.store_seconds * 1000, len(calls), '' if len(calls) == 1 else 's')


def current():
    """The timing of the request this thread is serving, or None (outside one)."""
    return getattr(_local, 'timing', None)


def record_call(store, op, started, ok=True):
    """A round trip that began at ``started`` (``perf_counter()``) ends now."""
    timing = getattr(_local, 'timing', None)
    if timing is not None:
        timing.calls.append(Call(store, op, perf_counter() - started, ok))


HEADER = ('session-load;dur=%.3f, identity;dur=%.3f, session-save;dur=%.3f, '
          'store;dur=%.3f;desc="%d round trip%s"')
UNTOUCHED = HEADER % (0, 0, 0, 0, 0, 's')
