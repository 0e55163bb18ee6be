"""The floor: a bare Pyramid app, one JSON view returning a constant.

No session, no security policy, no CSRF, no tweens beyond Pyramid's own: what
Pyramid and waitress cost per request on this machine, under the same waitress
settings as sessiondemo. Row 11 divides every target's req/s by this app's.

    python -m benchmarks.peers.bare_pyramid --port 8002 --threads 4 --connection-limit 100
"""
from pyramid.config import Configurator

from .serve import parser, serve

PATH = '/bare'


def bare(request):
    return {'status': 'ok'}


def make_app():
    with Configurator() as config:
        config.add_route('bare', PATH)
        config.add_view(bare, route_name='bare', request_method='GET', renderer='json')
        return config.make_wsgi_app()


def main(argv=None):
    serve(make_app(), parser(__doc__).parse_args(argv))


if __name__ == '__main__':
    main()
