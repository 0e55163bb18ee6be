"""The JSON API of shared/spec/http-api.md (public views say so explicitly)."""
from datetime import datetime, timezone

from pyramid.csrf import get_csrf_token
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config
from sqlalchemy import select

from .. import accounts
from ..ingress import json_object
from ..models import User
from ..security import log_in, log_out

PUBLIC = NO_PERMISSION_REQUIRED
DATA_KEY = 'data'    # the client's own key/values, apart from auth.* keys


def iso(timestamp):
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat()


@view_config(route_name='healthz', request_method='GET', renderer='json', permission=PUBLIC,
             openapi=True)
def healthz(request):
    backend = request.registry.session_backend
    backend.ping()          # StoreUnavailable -> 503 store_unavailable
    return {'status': 'ok', 'store': backend.name}


@view_config(route_name='api_csrf', request_method='GET', renderer='json', permission=PUBLIC,
             openapi=True)
def csrf(request):
    return {'csrf_token': get_csrf_token(request)}


@view_config(route_name='api_register', request_method='POST', renderer='json',
             permission=PUBLIC, openapi=True)
def register(request):
    username, password = accounts.read_credentials(json_object(request))
    user = accounts.register(request, username, password)
    log_in(request, user)
    request.response.status = 201
    return {'user': user.as_json()}


@view_config(route_name='api_login', request_method='POST', renderer='json', permission=PUBLIC,
             openapi=True)
def login(request):
    username, password = accounts.read_credentials(json_object(request))
    user = accounts.authenticate(request, username, password)
    log_in(request, user)
    return {'user': user.as_json()}


@view_config(route_name='api_logout', request_method='POST', renderer='json', permission=PUBLIC,
             openapi=True)
def logout(request):
    log_out(request)
    return {'message': 'logged out'}


@view_config(route_name='api_me', request_method='GET', renderer='json', openapi=True)
def me(request):
    session = request.session
    return {
        'user': request.identity.as_json(),
        'session': {
            'store': request.registry.session_backend.name,
            'created_at': iso(session.created),
            'expires_at': iso(session.expires_at),
        },
    }


@view_config(route_name='api_users', request_method='GET', renderer='json', openapi=True)
def users(request):
    found = request.dbsession.scalars(select(User).order_by(User.id))
    return {'users': [user.as_json() for user in found]}


@view_config(route_name='api_session_data', request_method='GET', renderer='json', openapi=True)
def session_data(request):
    return {'data': request.session.get(DATA_KEY, {})}


@view_config(route_name='api_session_data', request_method='PATCH', renderer='json', openapi=True)
def patch_session_data(request):
    changes = json_object(request)
    data = dict(request.session.get(DATA_KEY, {}))
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    # Assigning a new dict marks the session changed; if it no longer fits, the
    # save raises SessionTooLarge (413) and the stored session stays as it was.
    request.session[DATA_KEY] = data
    return {'data': data}


@view_config(route_name='api_greet', request_method='GET', renderer='json', openapi=True)
def greet(request):
    name = request.session.get(DATA_KEY, {}).get('name')
    if not isinstance(name, str) or not name:
        name = request.identity.username
    return {'message': f'hello {name}'}
