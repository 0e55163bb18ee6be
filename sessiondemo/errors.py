"""The contract's error shape, for every failure, JSON or page.

Views and the session machinery raise ``ApiError`` subclasses; the exception
views here turn them, and Pyramid's own HTTP exceptions, into
``{"error": {"code", "message"}}`` under ``/api/`` (and ``/healthz``) or an
error page elsewhere. Nothing reaches the client as a traceback.
"""
import logging
import traceback

from pyramid.exceptions import BadCSRFOrigin, BadCSRFToken, PredicateMismatch, URLDecodeError
from pyramid.httpexceptions import HTTPException, HTTPNotFound, HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.response import Response
from urllib.parse import quote, urlsplit

from . import audit

log = logging.getLogger(__name__)


class ApiError(Exception):
    status = 500
    code = 'internal'
    message = 'Something went wrong on our side.'
    headers = {}

    def __init__(self, message=None, **headers):
        super().__init__(message or self.message)
        self.message = message or self.message
        if headers:
            self.headers = {k.replace('_', '-'): str(v) for k, v in headers.items()}


class InvalidJSON(ApiError):
    status, code, message = 400, 'invalid_json', 'The request body is not valid UTF-8 JSON.'


class InvalidInput(ApiError):
    status, code, message = 400, 'invalid_input', 'The request is not valid.'


class Unauthenticated(ApiError):
    status, code, message = 401, 'unauthenticated', 'You need to log in first.'


class InvalidCredentials(ApiError):
    status, code, message = 401, 'invalid_credentials', 'Unknown username or wrong password.'


class BadCSRF(ApiError):
    status, code, message = 403, 'bad_csrf', 'Missing or invalid CSRF token.'


class Forbidden(ApiError):
    status, code, message = 403, 'forbidden', 'You may not do that.'


class NotFound(ApiError):
    status, code, message = 404, 'not_found', 'There is nothing here.'


class MethodNotAllowed(ApiError):
    status, code, message = 405, 'method_not_allowed', 'That method is not allowed here.'


class Conflict(ApiError):
    status, code, message = 409, 'conflict', 'That already exists.'


class RequestTooLarge(ApiError):
    status, code, message = 413, 'request_too_large', 'The request body is too large.'


class SessionTooLarge(ApiError):
    status, code, message = 413, 'session_too_large', \
        'The session would be larger than the store allows; nothing was changed.'


class TooManyRequests(ApiError):
    status, code, message = 429, 'too_many_requests', 'Too many attempts; try again later.'


class StoreUnavailable(ApiError):
    status, code = 503, 'store_unavailable'
    message = 'The session store cannot be reached; try again shortly.'
    headers = {'Retry-After': '5'}


class Internal(ApiError):
    pass


def path_of(request):
    # PATH_INFO as the server gave it (latin-1 text); request.path would raise
    # again on bad UTF-8 such as /%ff inside the very view handling that error.
    return request.environ.get('PATH_INFO', '') or '/'


def wants_json(request):
    path = path_of(request)
    return path.startswith('/api/') or path == '/api' or path == '/healthz'


# What may stay as it is in a redirect target's path and query (RFC 3986's
# reserved and unreserved characters, and % for what is already encoded).
_TARGET_SAFE = "/?#[]@!$&'()*+,;=:-._~%"


def safe_next(value, default='/'):
    """A redirect target that stays on this site: a local absolute path, as
    ASCII (anything else percent-encoded: a Location header is latin-1 at
    best, and ``/€x`` must be a path, not a 500)."""
    if not isinstance(value, str) or not value.startswith('/') or value.startswith('//'):
        return default
    if '\\' in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    try:
        return quote(value, safe=_TARGET_SAFE)
    except UnicodeEncodeError:          # a lone surrogate: not a path of ours
        return default


def error_response(request, error):
    if wants_json(request):
        response = Response(json_body={'error': {'code': error.code, 'message': error.message}},
                            status=error.status, charset='utf-8')
    else:
        response = render_to_response('sessiondemo:templates/error.jinja2',
                                      {'status': error.status, 'message': error.message},
                                      request=request)
        response.status = error.status
    response.headers.update(error.headers)
    response.cache_control = 'no-store'
    return response


def api_error_view(exc, request):
    if isinstance(exc, StoreUnavailable):
        audit.event(request, 'store_unavailable', 'refused')
    return error_response(request, exc)


def not_found_view(exc, request):
    if isinstance(exc, PredicateMismatch) and request.matched_route is not None:
        # Pyramid says 404 when a route matched but no view took the method.
        return error_response(request, MethodNotAllowed())
    return error_response(request, NotFound())


def url_decode_view(exc, request):
    return error_response(request, NotFound())


def undecodable_view(exc, request):
    # WebOb decodes the query string as UTF-8 on first read (request.GET,
    # request.params: the pages' ?next=) and raises on bytes that are not:
    # the client's fault, not a 500.
    return error_response(request, InvalidInput('The request is not valid UTF-8.'))


def bad_csrf_view(exc, request):
    audit.event(request, 'csrf_refused', 'refused', handle=audit.cookie_handle(request))
    return error_response(request, BadCSRF())


def forbidden_view(exc, request):
    try:
        identity = request.identity
    except StoreUnavailable as error:
        return api_error_view(error, request)
    if identity is not None:
        return error_response(request, Forbidden())
    if wants_json(request):
        return error_response(request, Unauthenticated())
    target = request.path_qs if request.method == 'GET' else '/'
    return HTTPSeeOther(location='/login?next=' + quote(target, safe='/'))


def http_exception_view(exc, request):
    # Any other HTTP exception Pyramid raises (400s from webob, say).
    error = ApiError(exc.explanation or exc.title)
    error.status, error.code = exc.code, {400: 'invalid_input'}.get(exc.code, 'internal')
    if exc.code < 400:
        return exc
    return error_response(request, error)


# Frames kept from each end of a traceback: enough to see where an error came
# from and where it happened, not a recursion's thousand frames (which Python
# folds only when one line repeats, not when two functions call each other).
TRACEBACK_ENDS = 15


def compact_traceback(exc):
    """``exc``'s traceback, chained exceptions included, with at most
    2 x TRACEBACK_ENDS frames of each stack."""
    summary = traceback.TracebackException.from_exception(exc, lookup_lines=False)
    seen, todo = set(), [summary]
    while todo:
        part = todo.pop()
        if id(part) in seen:
            continue
        seen.add(id(part))
        frames = part.stack
        if len(frames) > 2 * TRACEBACK_ENDS:
            left_out = len(frames) - 2 * TRACEBACK_ENDS
            # A frame standing for those left out, printed in the frames' place.
            marker = traceback.FrameSummary(f'[{left_out} frames left out]', 0, '...',
                                            lookup_line=False, line='')
            part.stack = traceback.StackSummary.from_list(
                frames[:TRACEBACK_ENDS] + [marker] + frames[-TRACEBACK_ENDS:])
        todo.extend(p for p in (part.__cause__, part.__context__) if p is not None)
    return ''.join(summary.format()).rstrip('\n')


def internal_error_view(exc, request):
    # One record per error, of bounded size whatever the recursion.
    log.error('unhandled error on %s %s\n%s', request.method, path_of(request),
              compact_traceback(exc))
    return error_response(request, Internal())


def includeme(config):
    for context, view in [
        (ApiError, api_error_view),
        (HTTPNotFound, not_found_view),
        (URLDecodeError, url_decode_view),
        (UnicodeDecodeError, undecodable_view),
        (BadCSRFToken, bad_csrf_view),
        (BadCSRFOrigin, bad_csrf_view),     # an HTTPS request from another origin
        (HTTPException, http_exception_view),
        (Exception, internal_error_view),
    ]:
        config.add_exception_view(view, context=context)
    config.add_forbidden_view(forbidden_view)
