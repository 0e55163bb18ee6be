"""The JSON API of shared/spec/http-api.md (public views say so explicitly)."""
from pyramid.csrf import get_csrf_token
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config
from sqlalchemy import select

from .. import accounts
from ..models import User
from ..security import log_in, log_out
from . import iso

PUBLIC = NO_PERMISSION_REQUIRED
# The client's own key/values live at the top level of the session, each under
# this prefix (apart from the auth.* keys): top-level keys are the unit of a
# conflict-safe write, so two requests setting different keys both keep theirs.
DATA_PREFIX = 'data:'


def client_data(session):
    return {k[len(DATA_PREFIX):]: v for k, v in session.items() if k.startswith(DATA_PREFIX)}


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
    body = request.validated
    user = accounts.register(request, body['username'], body['password'])
    log_in(request, user)
    request.response.status = 201
    return {'user': user.identity.as_json()}


@view_config(route_name='api_login', request_method='POST', renderer='json', permission=PUBLIC,
             openapi=True)
def login(request):
    body = request.validated
    user = accounts.authenticate(request, body['username'], body['password'])
    log_in(request, user)
    return {'user': user.identity.as_json()}


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
    rows = request.dbsession.execute(select(User.id, User.username).order_by(User.id))
    return {'users': [{'id': id_, 'username': username} for id_, username in rows]}


@view_config(route_name='api_session_data', request_method='GET', renderer='json', openapi=True)
def session_data(request):
    return {'data': client_data(request.session)}


@view_config(route_name='api_session_data', request_method='PATCH', renderer='json', openapi=True)
def patch_session_data(request):
    session = request.session
    for key, value in request.validated.items():
        if value is None:
            session.pop(DATA_PREFIX + key, None)
        else:
            session[DATA_PREFIX + key] = value
    # If the session no longer fits, the save raises SessionTooLarge (413) and
    # the stored session stays as it was.
    return {'data': client_data(session)}


@view_config(route_name='api_greet', request_method='GET', renderer='json', openapi=True)
def greet(request):
    name = request.session.get(DATA_PREFIX + 'name')
    if not isinstance(name, str) or not name:
        name = request.identity.username
    return {'message': f'hello {name}'}
