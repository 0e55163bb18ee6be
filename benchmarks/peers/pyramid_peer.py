"""A Pyramid peer: the same JSON read served with an off-the-shelf session factory.

``signedcookie``: Pyramid's ``SignedCookieSessionFactory(secret)`` with every
default (JSON serializer, ``reissue_time=0``: the cookie is re-signed and re-sent
on every request that touches the session). ``redis``: pyramid_session_redis's
``RedisSessionFactory(secret, redis_url=...)`` with its defaults (pickle, 1200 s
timeout). Deliberately minimal: any username logs in with the benchmark
password, the session holds the username, and ``/api/me`` returns it without a
users database (sessiondemo's ``/api/me`` also loads the user row to check the
session epoch; the report says so). CSRF is not checked; ``/api/csrf`` exists so
that clients and the session-free public endpoint are the same as the app's.

    python -m benchmarks.peers.pyramid_peer --kind signedcookie --port 8001
"""
import argparse
import os

from pyramid.config import Configurator
from pyramid.session import SignedCookieSessionFactory

PASSWORD = os.environ.get('BENCH_PASSWORD', 'benchmark password')


def error(request, status, code):
    request.response.status = status
    return {'error': {'code': code, 'message': code}}


def csrf(request):
    return {'csrf_token': 'peer-does-not-check'}      # touches no session


def login(request):
    body = request.json_body
    if body.get('password') != PASSWORD or not body.get('username'):
        return error(request, 401, 'invalid_credentials')
    request.session.invalidate()
    request.session['user'] = body['username']
    if request.path.endswith('register'):
        request.response.status = 201
    return {'user': {'username': body['username']}}


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
        for key, value in request.json_body.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        request.session['data'] = merged
    return {'data': merged}


def logout(request):
    request.session.invalidate()
    return {'message': 'logged out'}


def session_factory(kind, secret, redis_url):
    if kind == 'signedcookie':
        return SignedCookieSessionFactory(secret)
    from pyramid_session_redis import RedisSessionFactory
    return RedisSessionFactory(secret, redis_url=redis_url)


def make_app(kind, secret, redis_url=None):
    with Configurator() as config:
        config.set_session_factory(session_factory(kind, secret, redis_url))
        for name, path, view, methods in [
                ('csrf', '/api/csrf', csrf, ('GET',)),
                ('login', '/api/login', login, ('POST',)),
                ('register', '/api/register', login, ('POST',)),
                ('me', '/api/me', me, ('GET',)),
                ('data', '/api/session/data', data, ('GET', 'PATCH')),
                ('logout', '/api/logout', logout, ('POST',))]:
            config.add_route(name, path)
            config.add_view(view, route_name=name, request_method=methods, renderer='json')
        config.add_route('healthz', '/healthz')
        config.add_view(lambda request: {'status': 'ok'}, route_name='healthz',
                        renderer='json')
        return config.make_wsgi_app()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--kind', choices=('signedcookie', 'redis'), required=True)
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--threads', type=int, default=4)
    parser.add_argument('--redis-url')
    args = parser.parse_args(argv)
    import logging
    import waitress
    logging.getLogger('waitress.queue').setLevel(logging.ERROR)   # the load we mean to apply
    app = make_app(args.kind, os.environ['BENCH_SECRET'], args.redis_url)
    waitress.serve(app, host='127.0.0.1', port=args.port, threads=args.threads, _quiet=True)


if __name__ == '__main__':
    main()
