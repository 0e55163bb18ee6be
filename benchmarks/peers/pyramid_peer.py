"""A Pyramid peer: the same JSON API served with an off-the-shelf session factory.

``signedcookie``: Pyramid's ``SignedCookieSessionFactory(secret)`` with every
default (JSON serializer, ``reissue_time=0``: the cookie is re-signed and re-sent
on every request that touches the session). ``redis``: pyramid_session_redis's
``RedisSessionFactory(secret, redis_url=...)`` with its defaults (pickle, 1200 s
timeout).

What it does as sessiondemo does, so that reads, writes and logins compare: the
same request shapes (JSON bodies, the same paths and statuses); CSRF checked on
every unsafe request against a token in its own cookie (Pyramid's
``CookieCSRFStoragePolicy``, ``X-CSRF-Token``), and ``GET /api/csrf`` minting
that token as ours does; bcrypt at the benchmark's rounds on every login
(``checkpw``) and registration (``hashpw``); a new session on login
(``invalidate``), the session destroyed on logout.

What it does not: no users database (any username logs in with the benchmark
password, checked against one bcrypt hash made at start-up; a registration
hashes its password and keeps nothing), no session epoch or revocation, no
per-user session index, no request validation, no login throttle. The session
holds the username and ``/api/me`` returns it.

    python -m benchmarks.peers.pyramid_peer --kind signedcookie --port 8001 \\
        --threads 4 --connection-limit 100
"""
import gc
import os

import bcrypt
from pyramid.config import Configurator
from pyramid.csrf import CookieCSRFStoragePolicy, get_csrf_token
from pyramid.exceptions import BadCSRFToken
from pyramid.session import SignedCookieSessionFactory

from .serve import parser, serve

PASSWORD = os.environ.get('BENCH_PASSWORD', 'benchmark password')
ROUNDS = int(os.environ.get('BENCH_BCRYPT_ROUNDS', '4'))
PASSWORD_HASH = bcrypt.hashpw(PASSWORD.encode('utf-8'), bcrypt.gensalt(ROUNDS))


def error(request, status, code):
    request.response.status = status
    return {'error': {'code': code, 'message': code}}


def credentials(request):
    """(username, password) from a JSON body, or None when either is missing."""
    try:
        body = request.json_body
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    username, password = body.get('username'), body.get('password')
    if not (isinstance(username, str) and username and isinstance(password, str)):
        return None
    return username, password


def csrf(request):
    return {'csrf_token': get_csrf_token(request)}      # its own cookie, no session


def log_in(request, username):
    request.session.invalidate()
    request.session['user'] = username
    return {'user': {'username': username}}


def register(request):
    given = credentials(request)
    if given is None:
        return error(request, 400, 'invalid_input')
    # What registering costs sessiondemo; the hash is not kept (any username logs in).
    bcrypt.hashpw(given[1].encode('utf-8'), bcrypt.gensalt(ROUNDS))
    request.response.status = 201
    return log_in(request, given[0])


def login(request):
    given = credentials(request)
    if given is None or not bcrypt.checkpw(given[1].encode('utf-8'), PASSWORD_HASH):
        return error(request, 401, 'invalid_credentials')
    return log_in(request, given[0])


def me(request):
    user = request.session.get('user')
    if user is None:
        return error(request, 401, 'unauthenticated')
    return {'user': {'username': user}}


def data(request):
    if request.session.get('user') is None:
        return error(request, 401, 'unauthenticated')
    merged = dict(request.session.get('data', {}))
    if request.method == 'PATCH':
        body = request.json_body
        if not isinstance(body, dict):
            return error(request, 400, 'invalid_input')
        for key, value in body.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        request.session['data'] = merged
    return {'data': merged}


def greet(request):
    user = request.session.get('user')
    if user is None:
        return error(request, 401, 'unauthenticated')
    name = request.session.get('data', {}).get('name')
    return {'message': f'hello {name if isinstance(name, str) and name else user}'}


def logout(request):
    request.session.invalidate()
    return {'message': 'logged out'}


def bad_csrf(exc, request):
    return error(request, 403, 'bad_csrf')          # as sessiondemo answers (Pyramid: 400)


def collect_garbage(request):
    """For the memory probe: readings after a full collection."""
    return {'collected': gc.collect()}


def session_factory(kind, secret, redis_url):
    if kind == 'signedcookie':
        return SignedCookieSessionFactory(secret)
    from pyramid_session_redis import RedisSessionFactory
    return RedisSessionFactory(secret, redis_url=redis_url)


def make_app(kind, secret, redis_url=None):
    with Configurator() as config:
        config.set_session_factory(session_factory(kind, secret, redis_url))
        config.set_csrf_storage_policy(CookieCSRFStoragePolicy(samesite='Lax'))
        config.set_default_csrf_options(require_csrf=True, token='csrf_token',
                                        header='X-CSRF-Token')
        config.add_exception_view(bad_csrf, context=BadCSRFToken, renderer='json')
        for name, path, view, methods in [
                ('csrf', '/api/csrf', csrf, ('GET',)),
                ('login', '/api/login', login, ('POST',)),
                ('register', '/api/register', register, ('POST',)),
                ('me', '/api/me', me, ('GET',)),
                ('data', '/api/session/data', data, ('GET', 'PATCH')),
                ('greet', '/api/greet', greet, ('GET',)),
                ('logout', '/api/logout', logout, ('POST',)),
                ('healthz', '/healthz', lambda request: {'status': 'ok'}, ('GET',)),
                ('gc', '/__bench__/gc', collect_garbage, ('GET',))]:
            config.add_route(name, path)
            config.add_view(view, route_name=name, request_method=methods, renderer='json')
        return config.make_wsgi_app()


def main(argv=None):
    options = parser(__doc__)
    options.add_argument('--kind', choices=('signedcookie', 'redis'), required=True)
    options.add_argument('--redis-url')
    args = options.parse_args(argv)
    serve(make_app(args.kind, os.environ['BENCH_SECRET'], args.redis_url), args)


if __name__ == '__main__':
    main()
