"""A user's own sessions: list, revoke one, revoke the others, change password."""
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.view import view_config

from .. import audit, readable
from ..errors import InvalidCredentials, NotFound, TooManyRequests
from ..models import User
from ..security import log_in, revoke_other_sessions
from . import iso


def current_user(request):
    """The logged-in user as an ORM object, for views that change it."""
    return request.dbsession.get(User, request.identity.id)


def user_sessions(request):
    rows = request.registry.user_sessions.list(request, request.identity.id)
    return [dict(row, created_at=iso(row['created_at']), last_seen_at=iso(row['last_seen_at']))
            for row in rows]


@view_config(route_name='api_sessions', request_method='GET', renderer='json', openapi=True)
def list_sessions(request):
    return {'sessions': user_sessions(request)}


@view_config(route_name='api_session', request_method='DELETE', renderer='json', openapi=True)
def revoke_session(request):
    sessions = request.registry.user_sessions
    if not sessions.revoke(request, request.identity.id, request.matchdict['handle']):
        raise NotFound('No session of yours has that handle.')
    audit.event(request, 'session_revoked', 'success', reason='one',
                user_id=request.identity.id, handle=request.matchdict['handle'])
    return {'revoked': 1}


@view_config(route_name='api_revoke_others', request_method='POST', renderer='json', openapi=True)
def revoke_others(request):
    return {'revoked': revoke_other_sessions(request, current_user(request))}


@view_config(route_name='api_password', request_method='POST', renderer='json', openapi=True)
def change_password(request):
    body = request.validated
    hasher = request.registry.password_hasher
    # A password check like a login's, in the same windows: a stolen session
    # must not be a way around the login throttle to guess the password.
    throttle = request.registry.login_throttle
    try:
        with throttle.attempt(request.identity.username, request.client_addr) as attempt:
            user = current_user(request)
            if not hasher.verify(body['current_password'], user.password_hash):
                raise InvalidCredentials('The current password is wrong.')
            attempt.succeeded()
    except (InvalidCredentials, TooManyRequests) as error:
        audit.event(request, 'password_changed',
                    'throttled' if isinstance(error, TooManyRequests) else 'failure',
                    user_id=request.identity.id, handle=audit.cookie_handle(request))
        raise
    user.password_hash = hasher.hash(body['new_password'])
    revoke_other_sessions(request, user, reason='password_change')
    audit.after_save(request, 'password_changed', 'success', user_id=user.id)
    # This session continues, under a new id (and keeps its data).
    log_in(request, user, keep_data=True)
    return {'message': 'password changed'}


@view_config(route_name='sessions', request_method='GET',
             renderer='../templates/sessions.jinja2')
def sessions_page(request):
    now = request.registry.session_backend.clock()
    rows = request.registry.user_sessions.list(request, request.identity.id)
    for row in rows:
        row['browser'], row['system'] = readable.browser_and_system(row['user_agent'])
        for name in ('created_at', 'last_seen_at'):
            stamp = row[name]
            row[name] = {'iso': iso(stamp), 'utc': readable.utc_text(stamp),
                         'relative': readable.relative(stamp, now)}
    session = request.session
    # Peek first: popping an empty queue would count as a change and cost a write.
    notices = session.pop_flash() if session.peek_flash() else []
    return {'sessions': rows, 'notices': notices,
            'store': request.registry.session_backend.name}


def ended(count):
    return f'{count} other session{"" if count == 1 else "s"} ended.'


@view_config(route_name='session_revoke', request_method='POST')
def revoke_session_form(request):
    revoke_session(request)
    if request.session.sid is None:
        # It was this very session: revoking it logged this browser out.
        return HTTPSeeOther(location='/login')
    request.session.flash('Session ended.')
    return HTTPSeeOther(location='/sessions')


@view_config(route_name='sessions_revoke_others', request_method='POST')
def revoke_others_form(request):
    count = revoke_other_sessions(request, current_user(request))
    if request.registry.session_backend.name == 'cookie':
        # Cookies the server never listed can't be counted; all of them stopped working.
        request.session.flash('Every other session of yours ended.')
    else:
        request.session.flash(ended(count))
    return HTTPSeeOther(location='/sessions')
