"""sessiondemo: session-based authentication in Pyramid, four session stores."""
from pyramid.config import Configurator

from . import requestid  # noqa: F401  (every log record gets its request_id, scripts' too)
from .config import SettingsError


def main(global_config, **settings):
    """The paste app factory (``use = egg:sessiondemo``)."""
    try:
        with Configurator(settings=settings) as config:
            config.include('.config')       # every setting parsed once, first
            config.include('pyramid_jinja2')
            config.include('.fastjson')     # the json renderer, on orjson
            config.add_jinja2_search_path('sessiondemo:templates')
            config.include('.models')       # users database, pyramid_tm
            config.include('.connections')  # Redis / SQL for the store and the throttle
            config.include('.audit')        # one JSON line per login and session event
            config.include('.passwords')
            config.include('.sessions')     # the store chosen by session.store
            config.include('.security')     # policy, deny by default
            config.include('.csrf')         # tokens bound to the session or a nonce
            config.include('.throttle')     # login failures per username and address
            config.include('.ingress')      # body size limit, cookie hygiene
            config.include('.errors')       # the contract's error shape
            config.include('.headers')      # no-store, no framing
            config.include('.observe')      # X-Request-ID, Server-Timing, the observers
            config.include('.openapi')      # openapi.yaml: served, requests validated
            config.include('.routes')
            config.include('.metrics')      # Prometheus at /metrics (loopback): its route last
            config.scan('.views')
            return config.make_wsgi_app()
    except SettingsError as error:
        # One line naming the key, not a traceback.
        raise SystemExit(f'sessiondemo: bad configuration: {error}') from None
