"""What a client sends, checked before anything reads it: bodies and cookies.

A tween below the exception view tween, before routing, CSRF (which may read a
form body), the session or any view:
- an oversized body costs nothing but its headers and gets 413 ``request_too_large``;
- a ``Cookie`` header with a value that is not UTF-8 would make WebOb raise on
  the first read of *any* cookie (a 500 from a garbage cookie); such values are
  dropped, and the client is simply anonymous.
"""
from pyramid.tweens import EXCVIEW, MAIN

from .errors import RequestTooLarge


def drop_undecodable_cookies(request):
    try:
        dict(request.cookies)
        return
    except UnicodeDecodeError:
        pass
    kept = []
    for pair in request.environ.get('HTTP_COOKIE', '').split(';'):
        try:
            pair.encode('latin-1').decode('utf-8')   # PEP 3333: header text is latin-1
        except UnicodeError:
            continue
        kept.append(pair.strip())
    request.environ['HTTP_COOKIE'] = '; '.join(kept)
    try:
        dict(request.cookies)
    except UnicodeDecodeError:       # an escaped value that decodes badly: drop them all
        request.environ['HTTP_COOKIE'] = ''


def ingress_tween_factory(handler, registry):
    limit = registry.app_settings.max_body_bytes

    def ingress_tween(request):
        drop_undecodable_cookies(request)
        length = request.content_length
        if length is not None and length > limit:
            raise RequestTooLarge()
        if length is None and request.is_body_readable:
            # No Content-Length (a chunked body reaching us undecoded): read at
            # most one byte past the limit before deciding.
            body = request.body_file_raw.read(limit + 1)
            if len(body) > limit:
                raise RequestTooLarge()
            request.body = body
        return handler(request)
    return ingress_tween


def includeme(config):
    # Above the session tween, so a rejected body never loads a session.
    config.add_tween('sessiondemo.ingress.ingress_tween_factory', under=EXCVIEW,
                     over=('sessiondemo.sessions.tween.session_tween_factory', MAIN))
