"""What a request spends on its session, measured as it goes.

Every request gets a ``RequestTiming`` (``request.timing``): the seconds spent
loading the session, checking the identity (beyond the load: the cookie
store's revocation check) and saving it, and each round trip to a store's
server (``Call``: a Redis command or a SQL statement, the throttle's and the
deny list's included; the memory store makes none). ``connections/`` records
the round trips, which see no request: they find the request's timing through
``current()``, set by this module's tween for the thread serving it.

Read by the ``Server-Timing`` header on every response (browser devtools show
it), by the "inside your session" page, and by whatever counts requests.
The cost: a few ``perf_counter`` calls per request.
"""
import threading
from collections import namedtuple
from time import perf_counter

from pyramid.tweens import EXCVIEW

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
        return (f'session-load;dur={self.load * 1000:.3f}, '
                f'identity;dur={self.identity * 1000:.3f}, '
                f'session-save;dur={self.save * 1000:.3f}, '
                f'store;dur={self.store_seconds * 1000:.3f};'
                f'desc="{len(calls)} round trip{"" if len(calls) == 1 else "s"}"')


def current():
    """The timing of the request this thread is serving, or None (outside one)."""
    return getattr(_local, 'timing', None)


def record_call(store, op, started, ok=True):
    """A round trip that began at ``started`` (``perf_counter()``) ends now."""
    timing = getattr(_local, 'timing', None)
    if timing is not None:
        timing.calls.append(Call(store, op, perf_counter() - started, ok))


UNTOUCHED = ('session-load;dur=0.000, identity;dur=0.000, session-save;dur=0.000, '
             'store;dur=0.000;desc="0 round trips"')


def timing_tween_factory(handler, registry):
    def timing_tween(request):
        timing = request.timing = _local.timing = RequestTiming()
        try:
            response = handler(request)
        finally:
            _local.timing = None
        # Appended: nothing else writes it, and WebOb's headers[...] = scans them all.
        response.headerlist.append(('Server-Timing', timing.header()))
        return response
    return timing_tween


def includeme(config):
    # Off with the rest of the observability (observe.enabled = false), for
    # the benchmark that measures what it costs.
    if not config.registry.app_settings.observe.enabled:
        return
    # Above the exception views, so error responses carry the header too.
    config.add_tween('sessiondemo.timing.timing_tween_factory', over=EXCVIEW)
