"""Reading and writing the session cookie, with the flags of ``session.cookie_*``."""
import re
import time


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


# RFC 6265 section 4.1.1: a cookie's name is a token, its value cookie-octets
# (no quotes: every value we send is an id, a signature or base64url text),
# an attribute's value any character but a control one or ';'.
COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
COOKIE_OCTETS = bytes([0x21, *range(0x23, 0x2c), *range(0x2d, 0x3b), *range(0x3c, 0x5c),
                       *range(0x5d, 0x7f)])
ATTRIBUTE_VALUE = re.compile(r'[\x20-\x3a\x3c-\x7e]*')
SAMESITE = ('Strict', 'Lax', 'None')
# IMF-fixdate (RFC 7231 7.1.1.1), the Expires form RFC 6265 recommends; the
# names from tables, as strftime's %a and %b follow the process's locale.
DAYS = ('Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun')
MONTHS = (None, 'Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct',
          'Nov', 'Dec')
LONGEST_EXPIRY = 400 * 86400     # what browsers keep at most (RFC 6265bis 5.5)


def http_date(seconds):
    t = time.gmtime(seconds)      # strftime only for numbers, which no locale changes
    return (DAYS[t[6]] + time.strftime(', %d ', t) + MONTHS[t[1]]
            + time.strftime(' %Y %H:%M:%S GMT', t))


class SetCookie:
    """The ``Set-Cookie`` header of one cookie whose name and flags are fixed
    at start-up: checked and joined once, so that a header costs the value's
    check, Max-Age and the Expires date (~4 µs for a session id's cookie,
    against ~28 for WebOb's ``make_cookie``, which checks and serializes every
    attribute again each time; the cookie store sends one on every write).
    What WebOb sent: Max-Age with its Expires (for clients that know only
    Expires), Path, Secure, HttpOnly and SameSite."""

    def __init__(self, name, path='/', secure=False, httponly=True, samesite='Lax'):
        if not COOKIE_NAME.fullmatch(name):
            raise ValueError(f'not a cookie name: {name!r}')
        if not ATTRIBUTE_VALUE.fullmatch(path) or not path.startswith('/'):
            raise ValueError(f'not a cookie path: {path!r}')
        if samesite not in SAMESITE or (samesite == 'None' and not secure):
            raise ValueError(f'SameSite={samesite!r} (None needs Secure)')
        self.name = name
        self._path = f'; Path={path}'
        self._flags = ''.join([
            '; Secure' if secure else '', '; HttpOnly' if httponly else '',
            f'; SameSite={samesite}'])

    def __call__(self, value, max_age=None):
        """The header's value: ``value`` kept ``max_age`` seconds (0: deleted
        now; None: until the browser closes)."""
        # What is left once every cookie-octet is deleted: nothing, or not ours
        # (a byte table: a regex or str.isprintable take 3-6x longer on 4 KB).
        if not value.isascii() or value.encode('ascii').translate(None, COOKIE_OCTETS):
            raise ValueError('a cookie value must be cookie-octets')
        if max_age is None:
            return f'{self.name}={value}{self._path}{self._flags}'
        max_age = max(0, int(max_age))
        expires = (http_date(time.time() + min(max_age, LONGEST_EXPIRY)) if max_age
                   else 'Thu, 01 Jan 1970 00:00:00 GMT')
        return f'{self.name}={value}; Max-Age={max_age}{self._path}; Expires={expires}{self._flags}'


class SessionCookie:
    def __init__(self, settings):
        self.settings = settings        # config.CookieSettings
        self.name = settings.name
        self.header = SetCookie(settings.name, path=settings.path, secure=settings.secure,
                                httponly=settings.httponly, samesite=settings.samesite)

    def set(self, response, value, max_age):
        self.add(response, self.header(value, max_age))

    @staticmethod
    def add(response, header):
        """Send a header made by ``header(value, max_age)``: what a browser must
        keep, which the cookie store measures against its 4096 bytes first."""
        response.headerlist.append(('Set-Cookie', header))

    def delete(self, response):
        self.add(response, self.header('', 0))
