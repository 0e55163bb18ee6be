"""Prometheus metrics, served at ``GET /metrics`` to the addresses allowed.

What is counted (prometheus_client; names as scraped):

    sessiondemo_http_requests_total{route,method,status}
    sessiondemo_http_request_duration_seconds{route}           histogram
    sessiondemo_store_round_trips_total{store,op,ok}           from request.timing.calls
    sessiondemo_store_round_trip_duration_seconds{store,op}    histogram
    sessiondemo_logins_total{outcome}                          success, failure, throttled
    sessiondemo_throttled_total{action}                        login, password_changed
    sessiondemo_csrf_refusals_total
    sessiondemo_store_unavailable_total                        the 503s
    sessiondemo_store_breaker_state{store}                     0 closed, 1 half open, 2 open
                                                               (store: redis, sql, users)
    sessiondemo_store_breaker_opens_total{store}
    sessiondemo_sessions_live{store}                           the memory store only: the
                                                               others cannot count cheaply

Labels are bounded: a route's name (never a path), a known method or
``OTHER``, a status code, a store and the name of what was sent to it.
The per-request work is a few dict lookups and increments on label children
cached here (prometheus_client's ``labels()`` takes a lock and builds a key).
The login, throttle, CSRF and 503 counts come from the audit's events
(audit.py), so an event is counted where it is logged, once.

Several app processes (prometheus_client's multiprocess mode): set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory, the same for every process,
before they start; each writes its values there and ``/metrics`` on any of them
sums them all. ``metrics.allow_from`` (networks, default loopback) says who
may read them; anyone else gets a 404.
"""
import ipaddress
import os

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge,
                               Histogram, generate_latest, multiprocess)
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED

from .errors import NotFound

METHODS = frozenset(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])
BREAKER_STATES = {'closed': 0, 'half_open': 1, 'open': 2}
# Seconds: a request in process is ~1 ms, a store round trip ~0.1 ms, a
# store timeout 1 s.
BUCKETS = (.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5)


class Metrics:
    def __init__(self):
        self.registry = registry = CollectorRegistry()
        self.requests = Counter('sessiondemo_http_requests', 'Requests answered',
                                ['route', 'method', 'status'], registry=registry)
        self.latency = Histogram('sessiondemo_http_request_duration_seconds',
                                 'Time to answer, by route', ['route'], buckets=BUCKETS,
                                 registry=registry)
        self.round_trips = Counter('sessiondemo_store_round_trips',
                                   'Round trips to a store server', ['store', 'op', 'ok'],
                                   registry=registry)
        self.round_trip_latency = Histogram(
            'sessiondemo_store_round_trip_duration_seconds', 'Round trip time',
            ['store', 'op'], buckets=BUCKETS, registry=registry)
        self.logins = Counter('sessiondemo_logins', 'Login attempts by outcome', ['outcome'],
                              registry=registry)
        self.throttled = Counter('sessiondemo_throttled', 'Password checks refused (429)',
                                 ['action'], registry=registry)
        self.csrf_refusals = Counter('sessiondemo_csrf_refusals', 'Requests refused 403 bad_csrf',
                                     registry=registry)
        self.unavailable = Counter('sessiondemo_store_unavailable',
                                   'Requests answered 503 store_unavailable', registry=registry)
        self.breaker_state = Gauge('sessiondemo_store_breaker_state',
                                   'Circuit breaker: 0 closed, 1 half open, 2 open', ['store'],
                                   registry=registry, multiprocess_mode='livemax')
        self.breaker_opens = Counter('sessiondemo_store_breaker_opens',
                                     'Times a store breaker opened', ['store'], registry=registry)
        self.sessions_live = Gauge('sessiondemo_sessions_live',
                                   'Live sessions (memory store only)', ['store'],
                                   registry=registry, multiprocess_mode='livesum')
        self._children = {}

    def _child(self, metric, *labels):
        key = (id(metric),) + labels
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def _request_counters(self, key):
        route, method, status = key
        counters = (self.requests.labels(route, method, str(status)).inc,
                    self.latency.labels(route).observe)
        self._children[key] = counters
        return counters

    def observe(self, request, response, seconds):
        """One answered request (observe.py's tween): ~3 µs, most of it prometheus_client's."""
        route = request.matched_route
        method = request.method
        key = (route.name if route is not None else '',
               method if method in METHODS else 'OTHER', response.status_int)
        count, time = self._children.get(key) or self._request_counters(key)
        count()
        time(seconds)
        timing = request.__dict__.get('timing')
        if timing is not None and timing.calls:
            for call in timing.calls:
                self._child(self.round_trips, call.store, call.op,
                            'true' if call.ok else 'false').inc()
                self._child(self.round_trip_latency, call.store, call.op).observe(call.seconds)

    def on_event(self, event, outcome):
        """An audit event (audit.Audit's listener)."""
        if event == 'login':
            self._child(self.logins, outcome).inc()
        if outcome == 'throttled':
            self._child(self.throttled, event).inc()
        elif event == 'csrf_refused':
            self.csrf_refusals.inc()
        elif event == 'store_unavailable':
            self.unavailable.inc()

    def on_breaker(self, store, state):
        self._child(self.breaker_state, store).set(BREAKER_STATES[state])
        if state == 'open':
            self._child(self.breaker_opens, store).inc()

    def exposition(self, backend):
        if backend.name == 'memory':
            self._child(self.sessions_live, 'memory').set(backend.store.count())
        if os.environ.get('PROMETHEUS_MULTIPROC_DIR'):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


def allowed(networks, address):
    try:
        address = ipaddress.ip_address(address or '')
    except ValueError:
        return False
    return any(address in network for network in networks)


# Headers a proxy adds: a request that carries one came through it, and its
# REMOTE_ADDR (the proxy's loopback address, production.ini's trusted proxy)
# says nothing about the client.
FORWARDED = ('HTTP_X_FORWARDED_FOR', 'HTTP_FORWARDED', 'HTTP_X_REAL_IP',
             'HTTP_X_FORWARDED_HOST', 'HTTP_X_FORWARDED_PROTO')


def metrics_view(request):
    # REMOTE_ADDR, not request.client_addr: X-Forwarded-For is the client's to write.
    environ = request.environ
    if any(header in environ for header in FORWARDED) or not allowed(
            request.registry.app_settings.observe.metrics_allow_from, request.remote_addr):
        raise NotFound()
    body = request.registry.metrics.exposition(request.registry.session_backend)
    response = Response(body=body)
    response.headers['Content-Type'] = CONTENT_TYPE_LATEST
    response.cache_control = 'no-store'
    return response


def includeme(config):
    # After .audit (its events are counted here), .sessions (the live count)
    # and .routes (its route is matched last: it costs the others nothing).
    registry = config.registry
    if not registry.app_settings.observe.enabled:
        registry.metrics = None
        return
    registry.metrics = metrics = Metrics()
    registry.audit.listeners.append(metrics.on_event)
    registry.connections.breaker_listeners.append(metrics.on_breaker)
    for breaker in registry.connections.breakers:       # made before this include
        metrics.on_breaker(breaker.store, breaker.state)
    # Told of each answered request by observe.py's tween, the outermost:
    # every round trip is in request.timing by then, and a login's commit is
    # part of its latency.
    registry.request_observers.append(metrics.observe)
    config.add_route('metrics', '/metrics')
    # Not behind a login (a scraper has none) but behind metrics.allow_from.
    config.add_view(metrics_view, route_name='metrics', request_method='GET',
                    permission=NO_PERMISSION_REQUIRED)
