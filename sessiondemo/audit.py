"""The audit trail: one JSON line per authentication or session event.

Events (``event`` / ``outcome``), as OWASP's logging cheat sheet and ASVS V7
ask for them:

    register         success | conflict
    login            success | failure | throttled   (unknown user = wrong password)
    logout           success
    session_revoked  success, with reason: one (``session`` is the one revoked) |
                     others, password_change (``session`` is the one that asked;
                     ``count``: how many the store deleted) | identity (the one dropped)
    password_changed success | failure | throttled
    csrf_refused     refused
    store_unavailable refused
    breaker          open | half_open | closed, with store: redis | sql | users

Each line is one JSON object on the logger ``sessiondemo.audit`` (level INFO)
with ``time``, ``event``, ``outcome``, ``user_id``, ``username`` (the attempted
one when nobody is logged in: at most 64 characters, JSON-escaped, so a name
cannot forge a line), ``session`` (the public handle, sessions.record.handle_of:
never the id, which is a bearer credential), ``client_addr`` (REMOTE_ADDR: what
the server saw, or its trusted proxy said; not a client's X-Forwarded-For) and
``request_id``. Never a password, session id, cookie value or CSRF token: the
callers pass none, and the tests check the whole run's logs for them.

Events that end in a new session (a login, a registration, a password change)
are written by a response callback, after the session tween has saved it: the
handle is the new session's, and a save that failed (503) logs no success.

Listeners (metrics.py) see every event as ``(event, outcome)``. With
``observe.enabled = false`` nothing here runs: ``registry.audit`` is None.
"""
import json
import logging
import time

from . import requestid

log = logging.getLogger('sessiondemo.audit')

USERNAME_CAP = 64


def _capped(username):
    if not isinstance(username, str):
        return None
    return username if len(username) <= USERNAME_CAP else username[:USERNAME_CAP] + '...'


def _handle(sid):
    # Imported here: errors.py imports this module, and sessions/ imports errors.
    from .sessions.record import handle_of, store_key
    return handle_of(store_key(sid)) if sid else None


def cookie_handle(request):
    """The handle of the session this request's cookie names (no store round
    trip; the session's own id once it is loaded)."""
    session = request.__dict__.get('session')
    if session is not None and session.sid:
        return _handle(session.sid)
    return _handle(request.registry.session_backend.session_id(request))


class Audit:
    def __init__(self):
        self.listeners = []         # called with (event, outcome)

    def write(self, request, event, outcome, user_id=None, username=None, handle=None,
              **extra):
        for listener in self.listeners:
            listener(event, outcome)
        if not log.isEnabledFor(logging.INFO):
            return
        now = time.time()
        line = {'time': time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(now))
                + f'.{int(now % 1 * 1000):03d}Z',
                'event': event, 'outcome': outcome, 'user_id': user_id,
                'username': _capped(username), 'session': handle,
                'client_addr': request.remote_addr if request is not None else None,
                'request_id': getattr(request, 'request_id', None) or requestid.current()}
        line.update(extra)
        # A response callback's line (after_save) comes after the request id
        # tween has left: the record's request_id must still be this request's.
        previous = requestid.bind(line['request_id'])
        try:
            log.info(json.dumps(line, ensure_ascii=True, separators=(', ', ': ')))
        finally:
            requestid.bind(previous)


def event(request, name, outcome, **fields):
    """Write one audit line now (nothing when the audit is off)."""
    audit = request.registry.audit
    if audit is not None:
        audit.write(request, name, outcome, **fields)


def after_save(request, name, outcome, **fields):
    """Write one audit line once the session is saved, naming the new
    session's handle; nothing if the request failed after all."""
    audit = request.registry.audit
    if audit is None:
        return

    def write(request, response):
        if response.status_int < 400:
            session = request.__dict__.get('session')
            audit.write(request, name, outcome,
                        handle=_handle(session.sid) if session is not None else None, **fields)
    request.add_response_callback(write)


def breaker_changed(registry):
    """A listener of the connections' circuit breakers: each change of state
    is an event (outside any request's fields but its id)."""
    def changed(store, state):
        if registry.audit is not None:
            registry.audit.write(None, 'breaker', state, store=store)
    return changed


def includeme(config):
    # After .connections: the breakers report their changes here.
    registry = config.registry
    registry.audit = Audit() if registry.app_settings.observe.enabled else None
    if registry.audit is not None:
        registry.connections.breaker_listeners.append(breaker_changed(registry))
