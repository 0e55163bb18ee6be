"""Inside one's session: GET /api/session (JSON) and GET /session (a page).

The facts come from sessions/inspection.py; these views only format times
(ISO 8601 for the API, "in 29 minutes" with the exact UTC time for a person).
Both are protected (the default permission) and write nothing.
"""
from pyramid.view import view_config

from .. import readable
from ..errors import Unauthenticated
from ..sessions import inspection
from . import iso

# Where each part of the facts keeps a time (Unix seconds).
TIMES = {'record': ('created_at', 'touched_at'),
         'expiry': ('idle_expires_at', 'absolute_expires_at', 'expires_at', 'last_slid_at',
                    'next_slide_at')}


def facts(request):
    inspection.hold_still(request.session)
    found = inspection.inspect(request)
    if found is None:
        # The policy admitted a user, so a session exists; this would be a
        # session the policy and the inspection disagree on. Never a 500.
        raise Unauthenticated()
    return found


@view_config(route_name='api_inspect', request_method='GET', renderer='json', openapi=True)
def inspect_api(request):
    found = facts(request)
    for part, names in TIMES.items():
        for name in names:
            found[part][name] = iso(found[part][name])
    return found


@view_config(route_name='inspect', request_method='GET', renderer='../templates/inspect.jinja2')
def inspect_page(request):
    found = facts(request)
    now = request.registry.session_backend.clock()

    def when(timestamp):
        return {'iso': iso(timestamp), 'utc': readable.utc_text(timestamp),
                'relative': readable.relative(timestamp, now)}

    times = {name: when(found[part][name]) for part, names in TIMES.items() for name in names}
    return {'facts': found, 'times': times, 'duration': readable.duration,
            'user': request.identity}
