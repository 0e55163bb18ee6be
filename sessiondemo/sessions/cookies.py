"""Reading and writing the session cookie, with the flags of ``session.cookie_*``."""
from webob.cookies import make_cookie


def read_cookie(request, name):
    """The value of cookie ``name`` in the request (the last one, as WebOb's
    ``request.cookies`` has it), or None.

    A session cookie is an ASCII token (an id and a signature, or base64):
    reading just it from the header costs a microsecond or two, where WebOb
    parses and decodes every cookie (~10-20 µs here, on every authenticated
    request). A value in double quotes (RFC 6265 allows them; WebOb strips
    them) is read without them; one with escapes is not one of ours either way.
    """
    header = request.environ.get('HTTP_COOKIE')
    if not header:
        return None
    value = None
    for pair in header.split(';'):
        key, sep, text = pair.partition('=')
        if sep and key.strip() == name:
            value = text.strip()
    if value and len(value) > 1 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value


class SessionCookie:
    def __init__(self, settings):
        self.settings = settings        # config.CookieSettings
        self.name = settings.name
        self._flags = dict(path=settings.path, secure=settings.secure,
                           httponly=settings.httponly, samesite=settings.samesite)

    def set(self, response, value, max_age):
        response.set_cookie(self.name, value, max_age=max(0, int(max_age)), **self._flags)

    def delete(self, response):
        response.set_cookie(self.name, '', max_age=0, **self._flags)

    def header_length(self, value, max_age):
        """Bytes of the Set-Cookie value a browser must keep (its 4096-byte
        limit), serialized exactly as ``set`` will send it, Expires included."""
        return len(make_cookie(self.name, value, max_age=max(0, int(max_age)), **self._flags))
