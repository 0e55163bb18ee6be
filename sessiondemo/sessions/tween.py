"""Saving the session where errors still become contract errors.

The tween sits below Pyramid's exception view tween, not in a response
callback, so a store that is down or a session that is too large becomes a 503
or a 413 with the contract's error shape instead of an uncaught exception.

A request that fails keeps none of its changes, with one exception: a session
it ended (the identity check found it revoked, then the request was refused
with a 401) is ended for good, record deleted and cookie expired, on the
error response itself (a response callback: it runs after the exception
views have made that response).
"""
from time import perf_counter

from ..errors import StoreUnavailable


def session_tween_factory(handler, registry):
    backend = registry.session_backend

    def session_tween(request):
        try:
            response = handler(request)
        except Exception:
            session = request.__dict__.get('session')
            if session is not None and session.is_changed and not dict(session):
                request.add_response_callback(end_session)
            raise
        session = request.__dict__.get('session')   # only if something asked for it
        if session is not None:
            started = perf_counter()
            backend.persist(request, response, session)
            timing = request.__dict__.get('timing')
            if timing is not None:
                timing.save = perf_counter() - started
        return response

    def end_session(request, response):
        try:
            backend.persist(request, response, request.session)
        except StoreUnavailable:
            pass        # the record expires by itself; the answer stands

    return session_tween
