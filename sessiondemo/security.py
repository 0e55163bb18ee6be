"""Who is logged in: Pyramid 2's security policy reading the user from the session.

The identity comes from the session alone: at login the session takes the
user's id, name and session epoch, so an authenticated request costs one
session load and no users-database statement. Revocation is the store's:
every event that must end a user's sessions (revoke one, revoke the others, a
password change) deletes them through the store's per-user index at once. The
cookie store has nothing to delete, so it pays one indexed lookup instead
(sessions/revocation.py): the user's session epoch and its deny list of
logged-out cookies.

Deny by default: ``set_default_permission('view')`` protects every view that
does not say otherwise, and only the views the contract lists as public carry
``NO_PERMISSION_REQUIRED``; a view added tomorrow is protected without anyone
remembering to protect it. CSRF is csrf.py's: checked on every unsafe request,
public ones included, with tokens that rotate at every login and logout.
"""
from time import perf_counter

from pyramid.authentication import SessionAuthenticationHelper
from pyramid.authorization import ACLHelper, Allow, Authenticated, Everyone
from pyramid.security import forget, remember

from . import audit, csrf
from .models import Identity
from .sessions.record import EPOCH_KEY, USERID_KEY, USERNAME_KEY, store_key

PERMISSION = 'view'
# Where a request keeps its identity once loaded (None: anonymous). Pyramid's
# RequestLocalCache would do, at ~4 µs a request in weak-reference lookups.
IDENTITY = 'sessiondemo.identity'


class Root:
    __acl__ = [(Allow, Authenticated, PERMISSION)]

    def __init__(self, request):
        self.request = request


def identity_in(session):
    """The Identity a session names, or None (anonymous, or not ours)."""
    userid, username, epoch = (session.get(USERID_KEY), session.get(USERNAME_KEY),
                               session.get(EPOCH_KEY))
    if type(userid) is not int or type(username) is not str or type(epoch) is not int:
        return None
    return Identity(userid, username, epoch)


class SessionSecurityPolicy:
    def __init__(self, revocation=None):
        self.helper = SessionAuthenticationHelper()
        self.acl = ACLHelper()
        self.revocation = revocation           # the cookie store's CookieRevocation

    def _load_identity(self, request):
        timing = request.__dict__.get('timing')
        if timing is None:
            return self._identity(request)
        # The identity's own time: what loading the session took is the load's.
        started, loaded = perf_counter(), timing.load
        try:
            return self._identity(request)
        finally:
            timing.identity += perf_counter() - started - (timing.load - loaded)

    def _identity(self, request):
        session = request.session
        if USERID_KEY not in session:
            return None
        identity = identity_in(session)
        if identity is None or (self.revocation is not None and session.sid is not None
                                and not self.revocation.still_valid(identity,
                                                                    store_key(session.sid))):
            # Not a login of ours, or revoked (another device's "log out
            # everywhere else", a password change): drop it for good, which
            # also expires a cookie-store cookie that can't be deleted otherwise.
            audit.event(request, 'session_revoked', 'success', reason='identity',
                        user_id=identity and identity.id, handle=audit.cookie_handle(request))
            session.invalidate()
            return None
        return identity

    def identity(self, request):
        cached = request.__dict__
        if IDENTITY not in cached:
            cached[IDENTITY] = self._load_identity(request)
        return cached[IDENTITY]

    def authenticated_userid(self, request):
        user = self.identity(request)
        return None if user is None else user.id

    def permits(self, request, context, permission):
        principals = [Everyone]
        user = self.identity(request)
        if user is not None:
            principals += [Authenticated, f'user:{user.id}']
        return self.acl.permits(context, principals, permission)

    def remember(self, request, userid, **kw):
        request.__dict__.pop(IDENTITY, None)
        return self.helper.remember(request, userid, **kw)

    def forget(self, request, **kw):
        request.__dict__.pop(IDENTITY, None)
        return self.helper.forget(request, **kw)


def log_in(request, user, keep_data=False):
    """A fresh session for a fresh login: the id the client had is destroyed,
    so a session id planted before login (session fixation) is worthless."""
    kept = dict(request.session) if keep_data else {}
    request.session.invalidate()
    request.session.update(kept)
    remember(request, user.id)
    request.session[USERNAME_KEY] = user.username
    request.session[EPOCH_KEY] = user.session_epoch
    csrf.rotate(request)


def revoke_other_sessions(request, user, reason='others'):
    """Every session of ``user`` (an ORM User) but this one stops
    authenticating, on every store: deleted where the store can, and behind
    the new epoch everywhere."""
    revoked = request.registry.user_sessions.revoke_others(request, user.id)
    user.session_epoch += 1
    request.session[EPOCH_KEY] = user.session_epoch
    audit.event(request, 'session_revoked', 'success', reason=reason, count=revoked,
                user_id=user.id, handle=audit.cookie_handle(request))
    return revoked


def log_out(request):
    user_id = request.session.get(USERID_KEY)
    if user_id is not None:         # logging out twice is one logout
        audit.event(request, 'logout', 'success', user_id=user_id,
                    handle=audit.cookie_handle(request))
    request.session.invalidate()
    forget(request)
    csrf.rotate(request)


def includeme(config):
    # After .sessions: the cookie store's backend holds its revocation check.
    backend = config.registry.session_backend
    config.set_security_policy(SessionSecurityPolicy(getattr(backend, 'revocation', None)))
    config.set_root_factory(Root)
    config.set_default_permission(PERMISSION)
