"""Saving the session where errors still become contract errors.

The tween sits below Pyramid's exception view tween, not in a response
callback, so a store that is down or a session that is too large becomes a 503
or a 413 with the contract's error shape instead of an uncaught exception.
"""


def session_tween_factory(handler, registry):
    backend = registry.session_backend

    def session_tween(request):
        response = handler(request)
        session = request.__dict__.get('session')   # only if something asked for it
        if session is not None:
            backend.persist(request, response, session)
        return response
    return session_tween
