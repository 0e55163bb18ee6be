"""Reading and writing the session cookie, with the flags of ``session.cookie_*``."""
from webob.cookies import make_cookie


# Where a backend leaves what it made of this request's session cookie (or
# None), so that CSRF's binding (``session_id``) and the session's load do
# not check (and, on the cookie store, decode) it twice.
COOKIE_OPENED = 'sessiondemo.cookie_opened'


def opened_cookie(request, name, open_):
    """``open_(value)`` of the request's cookie ``name`` (None without one),
    worked out once a request."""
    environ = request.environ
    if COOKIE_OPENED not in environ:
        raw = read_cookie(request, name)
        environ[COOKIE_OPENED] = open_(raw) if raw else None
    return environ[COOKIE_OPENED]


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

    def header(self, value, max_age):
        """The Set-Cookie value ``set`` would send (Expires included): what a
        browser must keep, measured against its 4096 bytes before ``add``."""
        return make_cookie(self.name, value, max_age=max(0, int(max_age)), **self._flags)

    @staticmethod
    def add(response, header):
        """Send a ``header`` made by ``header``: WebOb serializes a cookie (its
        Expires date above all) at a cost worth paying once, not twice."""
        response.headerlist.append(('Set-Cookie', header))

    def delete(self, response):
        response.set_cookie(self.name, '', max_age=0, **self._flags)
