"""What a client sends, checked before anything reads it: bodies and cookies.

A tween below the exception view tween, before routing, CSRF (which may read a
form body), the session or any view:
- an oversized body costs nothing but its headers and gets 413 ``request_too_large``;
- a JSON body is read here, once, and kept for every later reader; one that
  ends before its Content-Length, or a negative Content-Length, is 400
  ``invalid_input``;
- a ``Cookie`` header with a value that is not UTF-8 would make WebOb raise on
  the first read of *any* cookie (a 500 from a garbage cookie); such a value is
  dropped, alone;
- a form body that WebOb cannot parse gets 400 ``invalid_input`` (a page for
  HTML), not the 500 of whichever reader met it first.
"""
from pyramid.tweens import EXCVIEW, MAIN

from webob.cookies import RequestCookies

from .errors import InvalidInput, RequestTooLarge


def drop_undecodable_cookies(request):
    header = request.environ.get('HTTP_COOKIE', '')
    if header.isascii() and '\\' not in header:
        # Plain ASCII with no escapes (every cookie this app sets): nothing in
        # it can fail to decode, and parsing it here would cost more than all
        # the rest of a public request's checks.
        return
    try:
        dict(request.cookies)
        return
    except UnicodeError:
        pass
    # Each pair on its own: a bad one goes, the session and CSRF cookies beside
    # it stay (else anyone able to set one cookie could keep a user logged out).
    request.environ['HTTP_COOKIE'] = '; '.join(
        pair.strip() for pair in header.split(';') if _decodes(pair))


def _decodes(pair):
    try:
        dict(RequestCookies({'HTTP_COOKIE': pair}))
    except UnicodeError:        # bytes that are not UTF-8, raw or \\ooo-escaped
        return False
    return True


FORM_TYPES = ('application/x-www-form-urlencoded', 'multipart/form-data')
# Pyramid's: the methods whose form its CSRF check never reads. No view reads
# the form of one either (the pages read ``next`` from the query on GET).
SAFE_METHODS = frozenset({'GET', 'HEAD', 'OPTIONS', 'TRACE'})


def check_form(request):
    """A form body WebOb cannot parse is the client's 400, at the door like an
    oversized one, on every unsafe method: CSRF reads the form of an unsafe
    request that has no token header (even a ``DELETE`` of a static file) and
    the pages read theirs, and WebOb raises ``ValueError`` on a multipart body
    without a valid boundary, ``DeprecationWarning`` on a charset other than
    UTF-8, ``LookupError`` on an unknown one, ``binascii.Error`` on a bad
    base64 part. Parsed here once: WebOb keeps it for every later read."""
    if request.content_type not in FORM_TYPES:
        return
    try:
        form = request.POST
    except OSError:             # a temporary file for a large part: ours
        raise
    except Exception:           # anything else comes from the client's bytes
        raise InvalidInput('The form in the request body cannot be read.') from None
    if not all(isinstance(value, str) for value in form.values()):
        # A file part: no form of this app takes one, and every reader
        # (CSRF's included) expects text.
        raise InvalidInput('The form in the request body holds a file.')


def read_json_body(request, length):
    """A JSON body, read here and kept for every later reader: WebOb's first
    ``request.body`` copies the input through three layers of file wrappers
    (~14 µs here, a tenth of a write's time in the app). One read takes it
    all from a server that buffered the body (waitress does); from one that
    did not, reads go on until it is all there. A body that ends before its
    Content-Length is the client's 400."""
    read = request.body_file_raw.read
    body = read(length)
    while len(body) < length:
        more = read(length - len(body))
        if not more:
            raise InvalidInput('The request body is shorter than its Content-Length.')
        body += more
    request.body = body


def ingress_tween_factory(handler, registry):
    limit = registry.app_settings.max_body_bytes

    def ingress_tween(request):
        drop_undecodable_cookies(request)
        length = request.content_length
        if length is not None and length > limit:
            raise RequestTooLarge()
        if length is not None and length < 0:
            raise InvalidInput('The Content-Length header is not a length.')
        if length is None and request.is_body_readable:
            # No Content-Length (a chunked body reaching us undecoded): read at
            # most one byte past the limit before deciding.
            body = request.body_file_raw.read(limit + 1)
            if len(body) > limit:
                raise RequestTooLarge()
            request.body = body
        content_type = request.environ.get('CONTENT_TYPE')
        if content_type and content_type.startswith('application/json'):
            if length:
                read_json_body(request, length)
        elif content_type and request.method not in SAFE_METHODS:
            check_form(request)     # a JSON body, or none, skips it
        return handler(request)
    return ingress_tween


def includeme(config):
    # Above the session tween, so a rejected body never loads a session.
    config.add_tween('sessiondemo.ingress.ingress_tween_factory', under=EXCVIEW,
                     over=('sessiondemo.sessions.tween.session_tween_factory', MAIN))
