"""The one tween that watches every request.

It gives the request its id (requestid.py: ``X-Request-ID``, on every log
line), times what it spends on its session (timing.py: ``Server-Timing``),
and hands the answered request to the observers: Prometheus's counts
(metrics.py) when ``observe.enabled``. One tween, not one per concern: each
tween is a frame, a closure and a ``try`` on every request, and these three
all wrap the same thing (the whole request).

It is the outermost tween, so every log line of the request (the exception
views', pyramid_tm's commit, the session save) carries the id, an error
response carries both headers, and the latency the observers see includes
the commit. Response callbacks run after it has left (audit.py's writes
rebind the id with ``requestid.bind``).
"""
from time import perf_counter

from pyramid.tweens import INGRESS

from . import requestid, timing


def observe_tween_factory(handler, registry):
    observers = tuple(registry.request_observers)
    ids, timings = requestid._local, timing._local
    request_id_for, RequestTiming = requestid.request_id_for, timing.RequestTiming
    NO_REQUEST = requestid.NO_REQUEST

    def observe_tween(request):
        started = perf_counter()
        request_id = request.request_id = ids.id = request_id_for(request.environ)
        request_timing = request.timing = timings.timing = RequestTiming()
        try:
            response = handler(request)
        finally:
            ids.id = NO_REQUEST         # a line logged between requests names none
            timings.timing = None
        for observe in observers:
            observe(request, response, perf_counter() - started)
        # Appended, not set: nothing else writes these, and WebOb's
        # headers[...] = scans every header to replace one.
        response.headerlist += ((requestid.HEADER, request_id),
                                ('Server-Timing', request_timing.header()))
        return response
    return observe_tween


def includeme(config):
    # Observers (metrics.py) add themselves later in the configuration; the
    # tween reads the list when the app is made.
    config.registry.request_observers = []
    config.add_tween('sessiondemo.observe.observe_tween_factory', under=INGRESS)
