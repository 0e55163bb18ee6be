"""``python -m benchmarks.profile [--stores ...] [--requests N] [--rounds R] [--json FILE]``

Where a request's time goes (spec row 12), in process, with no server or
network in the way: the app is called as a WSGI callable with a prepared
environ, as a server would call it, so what is measured is the app's own cost
per request. Run it alone on the machine (``make bench`` runs it when no load
test is running): it measures CPU time on whatever core it gets.

For a bare Pyramid app (one JSON view, the floor) and, on each store, our public
endpoint (``GET /api/csrf``), the authenticated read (``GET /api/me``) and the
session write (``PATCH /api/session/data``, a new value each time): the
microseconds per request (median of rounds, no profiler), then that total split
by layer. The split comes from a second run under cProfile: each layer's share
of the profiled time, applied to the unprofiled total (the profiler slows
small functions more than large ones, so the split is a guide, the total is
the measurement; ``profiled_us`` in the JSON says how much slower it ran).

A layer is the time spent inside its functions (``MARKS``) and not inside
another layer's: the router's ``handle_request`` calls the view, and the view's
time is the view's, not routing's. Which marked function runs inside which is
not assumed but traced, on a few requests of each endpoint before the profiled
run, so the layers add up to the total, none is counted twice, and they stay
right when the request path moves (the session loaded in a tween, say).

Layers (``LAYER_NOTES`` says what each holds): ``request``, ``tweens``,
``routing``, ``csrf``, ``session load``, ``identity`` (beyond loading the
session: the cookie store's revocation check is here), ``validation``,
``view``, ``renderer`` and ``save``.

Everything it starts (a redis-server, a PostgreSQL cluster) it stops on the way
out, errors, Ctrl-C and SIGTERM included.
"""
import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import signal
import statistics
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict

from pyramid.csrf import check_csrf_origin, check_csrf_token
from pyramid.renderers import RendererHelper
from pyramid.router import Router
from sqlalchemy import create_engine

from realservers import PostgresServer, RedisServer
from sessiondemo import main as sessiondemo_main
from sessiondemo.scripts.initialize_db import upgrade
# The marked functions, imported by their current names: a rename fails here,
# loudly, instead of leaving a layer silently empty. MARKS says where each lives.
from sessiondemo.openapi.validation import Operation
from sessiondemo.security import SessionSecurityPolicy
from sessiondemo.sessions.cookie import CookieBackend
from sessiondemo.sessions.serverside import ServerSideBackend
from sessiondemo.views import api

from .observe_cost import observability_cost
from .peers import bare_pyramid

# The layers, each as the functions whose time (less that of the other layers
# they call into) is the layer's. The one place that names the request path's
# functions: when the app's request path changes, change this (and the imports
# above) and nothing else. The first layer's function is the whole request.
MARKS = {
    # pyramid/router.py: Router.__call__ makes the request (request factory,
    # context), calls invoke_request, then calls the response as a WSGI app.
    'request': [Router.__call__],
    # pyramid/router.py: invoke_request runs the tween chain (pyramid_tm,
    # Pyramid's exception views, sessiondemo/ingress.py and
    # sessiondemo/sessions/tween.py) and the response callbacks (CSRF cookie).
    'tweens': [Router.invoke_request],
    # pyramid/router.py: handle_request, below the tweens: route match, view
    # lookup, the view derivers (the permission check among them).
    'routing': [Router.handle_request],
    # pyramid/csrf.py, called by Pyramid's csrf_view deriver on unsafe methods:
    # the token from its own cookie (CookieCSRFStoragePolicy, set up in
    # sessiondemo/security.py) against X-CSRF-Token, and the Origin check.
    'csrf': [check_csrf_token, check_csrf_origin],
    # sessiondemo/sessions/serverside.py and sessiondemo/sessions/cookie.py: the
    # session factories (cookie read, signature check, the store's load).
    'session load': [ServerSideBackend.__call__, CookieBackend.__call__],
    # sessiondemo/security.py: the identity from the session, behind
    # SessionSecurityPolicy.identity's request-local cache.
    'identity': [SessionSecurityPolicy._load_identity],
    # sessiondemo/openapi/validation.py, called by the openapi view deriver
    # (sessiondemo/openapi/__init__.py): the request checked against openapi.yaml.
    'validation': [Operation.validate_request],
    # sessiondemo/views/api.py (the endpoints profiled) and
    # benchmarks/peers/bare_pyramid.py (the floor's one view).
    'view': [api.csrf, api.me, api.patch_session_data, bare_pyramid.bare],
    # pyramid/renderers.py: the JSON renderer, request.response made on first use.
    'renderer': [RendererHelper.render_view],
    # sessiondemo/sessions/serverside.py and sessiondemo/sessions/cookie.py,
    # called by the session tween (sessiondemo/sessions/tween.py).
    'save': [ServerSideBackend.persist, CookieBackend.persist],
}
LAYERS = list(MARKS)
# What each layer holds, in the report's words.
LAYER_NOTES = {
    'request': 'WebOb request and response objects, the WSGI call',
    'tweens': 'pyramid_tm, exception views, ingress, the session tween, response callbacks',
    'routing': 'route match, view lookup, the view derivers (the permission check)',
    'csrf': 'the CSRF token and origin checks (unsafe methods only)',
    'session load': 'cookie read, signature check, the store\'s load',
    'identity': 'the security policy beyond the load (the cookie store\'s revocation check)',
    'validation': 'the request checked against openapi.yaml',
    'view': 'the view function',
    'renderer': 'the JSON renderer and the response object it makes',
    'save': 'the session tween\'s save (the store\'s write or touch, the Set-Cookie)',
}
assert list(LAYER_NOTES) == LAYERS

STORES = ['memory', 'cookie', 'redis', 'sql-sqlite', 'sql-postgresql']
BARE = 'bare'                     # the bare Pyramid app's key among the targets
PASSWORD = 'profile-password'
ENDPOINTS = [('public', 'GET', '/api/csrf'), ('read', 'GET', '/api/me'),
             ('write', 'PATCH', '/api/session/data')]
TRACED_REQUESTS = 5               # per endpoint, to see which layer runs inside which


def _key(function):
    """How cProfile names a function: (file, first line, name)."""
    code = function.__code__
    return code.co_filename, code.co_firstlineno, code.co_name


LAYER_OF = {_key(function): layer for layer, functions in MARKS.items()
            for function in functions}
ROOT = _key(MARKS[LAYERS[0]][0])


class Client:
    """Calls a WSGI app the way a server would, keeping its cookies as a browser does.
    ``app_seconds`` adds up the time spent in the app alone (the call and its
    body's iteration), not in building the environ or reading the answer."""

    BASE_ENVIRON = {
        'QUERY_STRING': '', 'SERVER_NAME': '127.0.0.1', 'SERVER_PORT': '80',
        'SERVER_PROTOCOL': 'HTTP/1.1', 'wsgi.url_scheme': 'http', 'wsgi.errors': sys.stderr,
        'wsgi.version': (1, 0), 'wsgi.multithread': True, 'wsgi.multiprocess': False,
        'wsgi.run_once': False, 'HTTP_HOST': '127.0.0.1', 'REMOTE_ADDR': '127.0.0.1',
        'HTTP_USER_AGENT': 'benchmarks.profile',
    }

    def __init__(self, app):
        self.app = app
        self.jar = {}
        self.cookie = ''
        self.csrf = ''
        self.status = self.headers = None
        self.app_seconds = 0.0

    def _start_response(self, status, headers, exc_info=None):
        self.status = status
        self.headers = headers

    def call(self, method, path, body=b''):
        environ = dict(self.BASE_ENVIRON, REQUEST_METHOD=method, PATH_INFO=path,
                       CONTENT_LENGTH=str(len(body)))
        environ['wsgi.input'] = io.BytesIO(body)
        if self.cookie:
            environ['HTTP_COOKIE'] = self.cookie
        if method not in ('GET', 'HEAD'):
            environ['HTTP_X_CSRF_TOKEN'] = self.csrf
        if body:
            environ['CONTENT_TYPE'] = 'application/json'
        start = time.perf_counter()
        result = b''.join(self.app(environ, self._start_response))
        self.app_seconds += time.perf_counter() - start
        if not self.status.startswith('2'):
            raise RuntimeError(f'{method} {path}: {self.status} {result[:200]!r}')
        for name, value in self.headers:
            if name.lower() == 'set-cookie':
                self._keep(value)
        return result

    def _keep(self, set_cookie):
        """What a browser does with a Set-Cookie: a cookie store's re-issued
        cookie (its idle expiry slid) is the one sent next."""
        pair, _, attributes = set_cookie.partition(';')
        name, _, value = pair.strip().partition('=')
        if not value or 'max-age=0' in attributes.lower().replace(' ', ''):
            self.jar.pop(name, None)
        else:
            self.jar[name] = value
        self.cookie = '; '.join(f'{k}={v}' for k, v in self.jar.items())


def logged_in_client(app):
    """A client of ``app`` holding a session and a CSRF token, as a browser would."""
    client = Client(app)
    client.csrf = json.loads(client.call('GET', '/api/csrf'))['csrf_token']
    client.call('POST', '/api/register',
                json.dumps({'username': 'frodo', 'password': PASSWORD}).encode())
    client.csrf = json.loads(client.call('GET', '/api/csrf'))['csrf_token']
    return client


def request_maker(client, method, path):
    if method == 'PATCH':
        counter = iter(range(10 ** 9))
        return lambda: client.call(method, path, json.dumps({'k': next(counter)}).encode())
    return lambda: client.call(method, path)


def measure(client, call, requests, rounds):
    """Median µs per request in the app over ``rounds`` rounds of ``requests`` calls."""
    for _ in range(min(200, requests)):
        call()                                      # warm caches and pools
    figures = []
    for _ in range(rounds):
        before = client.app_seconds
        for _ in range(requests):
            call()
        figures.append((client.app_seconds - before) / requests * 1e6)
    return statistics.median(figures)


def enclosing(call, requests=TRACED_REQUESTS):
    """{marked function: Counter(the marked function it ran inside, or None)}
    over ``requests`` traced calls (a recursive call is not a new entry)."""
    stack, found = [], defaultdict(Counter)

    def hook(frame, event, arg):
        if event == 'call':
            code = frame.f_code
            key = (code.co_filename, code.co_firstlineno, code.co_name)
            if key in LAYER_OF:
                if all(key != outer for outer, _ in stack):
                    found[key][stack[-1][0] if stack else None] += 1
                stack.append((key, frame))
        elif event == 'return' and stack and stack[-1][1] is frame:
            stack.pop()

    previous = sys.getprofile()
    sys.setprofile(hook)
    try:
        for _ in range(requests):
            call()
    finally:
        sys.setprofile(previous)
    return found


def split(call, requests, total_us):
    """The layers of ``total_us`` by their shares of a profiled run, and the
    profiled µs per request: (layers, profiled_us)."""
    where = enclosing(call)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        call()
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    if ROOT not in stats:
        raise RuntimeError(f'{ROOT[2]} never ran: the app is not a Pyramid router?')
    whole = stats[ROOT][3]             # cumulative seconds of every profiled request
    own = dict.fromkeys(LAYERS, 0.0)
    for key, parents in where.items():
        if key not in stats or (key != ROOT and None in parents):
            continue                   # not profiled, or outside the request
        cumulative = stats[key][3]
        own[LAYER_OF[key]] += cumulative
        calls = sum(parents.values())
        for parent, count in parents.items():
            if parent is not None:     # its time is its own layer's, not its caller's
                own[LAYER_OF[parent]] -= cumulative * count / calls
    # A marked function that ran under the profiler but in none of the traced
    # requests is not split out: its time stays in the layer it ran inside.
    # Each layer's own time is its cumulative time less that of the marked
    # functions run inside it, so the layers sum to the whole; below zero only
    # by the timer's rounding, or the accounting is wrong.
    for layer, seconds in own.items():
        if seconds < -0.01 * whole:
            raise RuntimeError(f'layer {layer!r} came out negative ({seconds:.6f} s of '
                               f'{whole:.6f} s): MARKS no longer matches the request path')
    scale = total_us / whole
    layers = {layer: round(max(0.0, seconds) * scale, 1) for layer, seconds in own.items()}
    return layers, round(whole / requests * 1e6, 1)


def endpoint_figures(client, call, requests, rounds):
    total = measure(client, call, requests, rounds)
    layers, profiled = split(call, requests, total)
    return {'us': round(total, 1), 'profiled_us': profiled, 'layers': layers}


@contextlib.contextmanager
def store_settings(store, tmp):
    """Settings that select ``store``, with its server running for the block."""
    if store in ('memory', 'cookie', 'sql-sqlite'):
        yield {'session.store': store.split('-')[0]}
    elif store == 'redis':
        with RedisServer(os.path.join(tmp, 'redis')) as server:
            yield {'session.store': 'redis', 'session.redis.url': server.url}
    elif store == 'sql-postgresql':
        with PostgresServer() as server:
            engine = create_engine(server.url)
            upgrade(engine)
            engine.dispose()
            yield {'session.store': 'sql', 'session.sql.url': server.url}
    else:
        raise ValueError(f'unknown store {store!r}')


def make_app(store_settings_, tmp, **more):
    """sessiondemo as the benchmark runner configures it (benchmarks/targets.py)."""
    path = os.path.join(tmp, f'users-{time.monotonic_ns()}.sqlite')
    engine = create_engine(f'sqlite:///{path}')
    upgrade(engine)
    engine.dispose()
    settings = {'sqlalchemy.url': f'sqlite:///{path}', 'session.secrets': 'p' * 48,
                'auth.bcrypt_rounds': '4', 'session.touch_interval': '60'}
    settings.update(store_settings_, **more)
    return sessiondemo_main({}, **settings)


def profile(stores, requests, rounds, log=sys.stderr):
    """{'targets': {BARE or store: {request: {'us', 'profiled_us', 'layers'}} or
    {'error'}}, ...}: a store that fails is reported, the others still run."""
    results = {'requests_per_round': requests, 'rounds': rounds, 'layers': LAYERS,
               'layer_notes': LAYER_NOTES,
               'endpoints': {name: f'{method} {path}' for name, method, path in ENDPOINTS},
               'bare_endpoint': f'GET {bare_pyramid.PATH}', 'targets': {}}
    print('profiling the bare Pyramid app', file=log, flush=True)
    bare = Client(bare_pyramid.make_app())
    results['targets'][BARE] = {'public': endpoint_figures(
        bare, lambda: bare.call('GET', bare_pyramid.PATH), requests, rounds)}
    with tempfile.TemporaryDirectory(prefix='sessiondemo-profile-') as tmp:
        for store in stores:
            print(f'profiling {store}', file=log, flush=True)
            try:
                with store_settings(store, tmp) as settings:
                    client = logged_in_client(make_app(settings, tmp))
                    results['targets'][store] = {
                        name: endpoint_figures(client, request_maker(client, method, path),
                                               requests, rounds)
                        for name, method, path in ENDPOINTS}
            except Exception as error:       # noqa: BLE001 - reported; the others still run
                traceback.print_exc(file=log)
                results['targets'][store] = {'error': f'{type(error).__name__}: {error}'}
        print('observability on and off (memory store)', file=log, flush=True)
        try:
            results['observability'] = observability_cost(
                lambda enabled: logged_in_client(make_app(
                    {'session.store': 'memory'}, tmp,
                    **{'observe.enabled': 'true' if enabled else 'false'})),
                requests, rounds)
        except Exception as error:           # noqa: BLE001 - reported like a store's
            traceback.print_exc(file=log)
            results['observability'] = {'error': f'{type(error).__name__}: {error}'}
    return results


def table(results):
    lines = ['| target | request | µs | ' + ' | '.join(LAYERS) + ' |',
             '|---|---|---:|' + '---:|' * len(LAYERS)]
    for target, figures in results['targets'].items():
        name = 'bare Pyramid app' if target == BARE else target
        if 'error' in figures:
            lines.append(f'| {name} | error: {figures["error"]} |')
            continue
        for request, figure in figures.items():
            cells = [f'{figure["layers"][layer]:.0f}' for layer in LAYERS]
            lines.append(f'| {name} | {request} | {figure["us"]:.0f} | '
                         + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def interrupted(signum, frame):
    """The first SIGTERM or Ctrl-C unwinds like Ctrl-C; later ones are ignored, so
    that they cannot cut the servers' stopping short (a runner stopping us sends
    SIGTERM, and on a terminal Ctrl-C reaches it and us alike)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--stores', nargs='+', choices=STORES, default=STORES)
    parser.add_argument('--requests', type=int, default=1000, help='requests per round')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--json', help='also write the figures to this file')
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    results = profile(args.stores, args.requests, args.rounds)
    print(table(results))
    if args.json:
        with open(args.json, 'w') as out:
            json.dump(results, out, indent=1)
    if 'error' not in results['observability']:
        print(f'observability: {results["observability"]}')
    failed = [name for name, figures in results['targets'].items() if 'error' in figures]
    return 1 if failed or 'error' in results['observability'] else 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print('benchmarks.profile: interrupted; what it started has stopped', file=sys.stderr)
        sys.exit(130)
