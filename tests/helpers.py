"""What several test modules share that is not a fixture: constants, the
controllable clock, the WebTest client, and small assertions.

Fixtures live in ``conftest.py`` and come by name; everything here is imported
(``from .helpers import ...``), so no test module imports another.
"""
import json
import shutil
import logging
import time
import uuid
from urllib.parse import parse_qs

import webtest

from sessiondemo import config
from sessiondemo.connections import Connections
from sessiondemo.sessions import make_store

SECRET = 'test-secret-0123456789abcdef0123456789abcdef'
OLD_SECRET = 'old-secret-0123456789abcdef0123456789abcdef'
PASSWORD = 'correct horse battery staple'

# Every store the contract suite runs against (conftest.STORE_FIXTURES says
# which fixture gives each one's settings), and those that keep sessions on the
# server.
STORES = ['memory', 'cookie', 'cookie-encrypted', 'redis', 'redis-cluster', 'sql-sqlite',
          'sql-postgresql']
SERVER_SIDE = {'memory', 'redis', 'redis-cluster', 'sql-sqlite', 'sql-postgresql'}


class Clock:
    """Unix time that only moves when a test says so."""

    def __init__(self, start=None):
        self.now = float(int(start if start is not None else time.time()))

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def fresh_prefix():
    # Tests share a server; a prefix of their own keeps their keys apart
    # (on a cluster too, where FLUSHDB would have to visit every node).
    return f'test-{uuid.uuid4().hex[:12]}:'


def is_server_side(store):
    return store in SERVER_SIDE


def assert_error(response, status, code):
    """The contract's error shape: ``{"error": {"code", "message"}}``, nothing else."""
    assert response.status_int == status, response.body
    assert response.content_type == 'application/json'
    assert set(response.json) == {'error'}
    assert response.json['error']['code'] == code
    assert isinstance(response.json['error']['message'], str) and response.json['error']['message']
    assert b'Traceback' not in response.body


def session_set_cookies(response, name='sid'):
    """Every Set-Cookie header for the session cookie, deletions included."""
    return [h for h in response.headers.getall('Set-Cookie') if h.startswith(name + '=')]


def record_count(app):
    """Session records in a server-side store; None for the cookie store."""
    store = getattr(app.registry.session_backend, 'store', None)
    return None if store is None else store.count()


NO_BODY = object()

# Every secret a TestApp has sent or been given in the whole run (passwords,
# cookie values and the session ids inside them, CSRF tokens): conftest's
# log watch fails the run if any of them appears in a log record.
SECRETS_SEEN = set()
SECRET_FIELDS = ('password', 'current_password', 'new_password')


def remember_secret(value):
    if isinstance(value, str) and len(value) >= 8:
        SECRETS_SEEN.add(value)


class TestApp(webtest.TestApp):
    """WebTest with the contract's CSRF handling and a few helpers."""

    __test__ = False        # a client, not a test class, wherever it is imported

    def csrf_token(self):
        return self.get('/api/csrf').json['csrf_token']

    def do_request(self, req, *args, **kwargs):
        if req.method == 'POST' and req.content_type == 'application/x-www-form-urlencoded':
            # Parsed here from the bytes: req.POST would warn about, or choke
            # on, the hostile forms some tests send on purpose.
            fields = parse_qs(req.body.decode('utf-8', 'replace'))
            for field in SECRET_FIELDS:
                for value in fields.get(field, ()):
                    remember_secret(value)
        response = super().do_request(req, *args, **kwargs)
        for value in self.cookies.values():
            remember_secret(value)
            for part in value.split('.'):       # a signed cookie's session id alone
                remember_secret(part)
        if response.content_type == 'application/json' and b'csrf_token' in response.body:
            remember_secret(response.json.get('csrf_token'))
        return response

    def api(self, method, path, body=NO_BODY, status=None, csrf=True, headers=None):
        """A JSON request; unsafe methods carry a CSRF token unless ``csrf=False``."""
        method, headers = method.upper(), dict(headers or {})
        if csrf and method not in ('GET', 'HEAD'):
            headers.setdefault('X-CSRF-Token', self.csrf_token())
        kwargs = {'headers': headers, 'status': status, 'expect_errors': status is None}
        if method in ('GET', 'HEAD'):
            return getattr(self, method.lower())(path, **kwargs)
        if isinstance(body, dict):
            for field in SECRET_FIELDS:
                remember_secret(body.get(field))
        if body is not NO_BODY:
            kwargs.update(params=json.dumps(body), content_type='application/json')
        return getattr(self, method.lower())(path, **kwargs)

    def register(self, username='frodo', password=PASSWORD, status=201):
        return self.api('POST', '/api/register', {'username': username, 'password': password},
                        status=status)

    def login(self, username='frodo', password=PASSWORD, status=200, headers=None):
        return self.api('POST', '/api/login', {'username': username, 'password': password},
                        status=status, headers=headers)

    def logout(self, status=200):
        return self.api('POST', '/api/logout', status=status)

    def session_cookie(self, name='sid'):
        return self.cookies.get(name)


def build_store(name, settings, clock):
    """The server-side store ``name`` (memory, redis, sql) made as the app makes
    it from ``settings`` (a settings dict; ``dbengine`` in it is the users
    engine), on the controllable ``clock``."""
    app_settings = config.read(dict({'session.secrets': SECRET}, **settings,
                                    **{'sessiondemo.clock': clock}))
    return make_store(app_settings, Connections(app_settings, settings.get('dbengine')), name)


# Debian's Chromium, headless, as Playwright launches it (test_browser.py,
# test_walkthrough.py).
CHROMIUM_ARGS = [
    '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
]


def chromium_path():
    path = shutil.which('chromium') or shutil.which('chromium-browser')
    assert path, 'chromium is not installed: `make test` installs Debian\'s chromium'
    return path
AUDIT_FIELDS = {'time', 'event', 'outcome', 'user_id', 'username', 'session', 'client_addr',
                'request_id'}


class AuditLines(logging.Handler):
    """The audit lines (sessiondemo.audit) written while attached, parsed."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(json.loads(record.getMessage()))

    def of(self, event, outcome=None, **fields):
        return [line for line in self.lines if line['event'] == event
                and (outcome is None or line['outcome'] == outcome)
                and all(line.get(k) == v for k, v in fields.items())]

    def one(self, event, outcome, **fields):
        """The one line of ``event`` with ``outcome`` (and ``reason``), with
        every field the issue names and the values in ``fields``."""
        found = self.of(event, outcome,
                        **({'reason': fields['reason']} if 'reason' in fields else {}))
        assert len(found) == 1, (found, self.lines)
        line = found[0]
        assert AUDIT_FIELDS <= set(line), line
        for key, value in fields.items():
            assert line[key] == value, (key, line)
        assert line['client_addr'] == '127.0.0.1'
        assert line['time'].endswith('Z') and line['request_id']
        return line
