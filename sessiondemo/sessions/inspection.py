"""A client's own session as the server holds it: the facts behind
``GET /session`` and ``GET /api/session`` (the contract's "Inside one's session").

Live values, read from what the request already has: the cookie it carried,
the record the session factory loaded (for a server-side store, the very text
the store returned; for the cookie store, the cookie decoded again), and the
round trips ``request.timing`` counted so far. Nothing here asks a store
anything.

Looking is not using: ``hold_still`` stops the request from sliding the idle
expiry or re-issuing a cookie signed with an older key, so viewing the session
costs no store write and no ``Set-Cookie``, and what the page shows is exactly
what the store keeps. The next ordinary request does the slide (the page says
when it is due).

Secrets never leave: the session id and the cookie value are shown as their
first ``SHOWN`` characters, and the store key (a SHA-256, safe to show) as a
prefix, enough to recognise it in a store dump.
"""
from ..timing import RequestTiming
from .cookie import BROWSER_COOKIE_LIMIT
from .cookies import read_cookie
from .record import Record, handle_of, store_key

SHOWN = 4
KEY_SHOWN = 12

FLAG_NOTES = {
    'HttpOnly': 'JavaScript cannot read the cookie, so a script injected into a page '
                '(XSS) cannot steal the session.',
    'SameSite': 'Lax: requests that other sites make (forms, scripts) go without it, '
                'which stops cross-site request forgery; following a link still sends it.',
    'Secure': 'Sent over HTTPS only, never in clear text on the network '
              '(off in development, on in production.ini).',
    'Path': 'The part of the site the browser sends it to; / is all of it.',
    'Max-Age': 'Seconds until the browser drops it: the absolute lifetime, so a '
               'forgotten session does not live on in the browser.',
}

# What each store does with the key (the SHA-256 of the id): a dump of any of
# them gives nobody a cookie that works.
KEY_FORMS = {
    'memory': 'an entry of a dictionary in this process, keyed by SHA-256(id)',
    'redis': 'the Redis key {prefix}{{s:SHA-256(id)}}, expiring by itself',
    'sql': 'the row of table sessions whose key column is SHA-256(id)',
}

STEPS = (
    (1, 'CSRF token before login'),
    (2, 'credentials posted'),
    (3, 'token, throttle and password checked'),
    (4, 'a new session made'),
    (5, 'the cookie set'),
    (6, 'the browser sends the cookie'),
    (7, 'signature checked, session loaded, user taken from it'),
    (8, 'logout destroys it'),
)


def mask(value):
    return value[:SHOWN] + '…' if value else ''


def hold_still(session):
    """Make this request's session write nothing: see the module docstring."""
    session.touch_due = False
    session.reissue = False


def _ms(seconds):
    return round(seconds * 1000, 3)


def _cookie_facts(backend, raw, now, created, sid):
    settings = backend.cookie.settings
    max_age = max(0, int(created + backend.timeouts.absolute - now))
    flags = {'HttpOnly': settings.httponly, 'SameSite': settings.samesite,
             'Secure': settings.secure, 'Path': settings.path, 'Max-Age': max_age}
    if backend.name != 'cookie':
        value, signature = raw.split('.')
        parts = [{'part': 'id', 'bytes': len(value), 'shown': mask(value),
                  'note': '128 random bits naming the record; the only secret'},
                 {'part': 'signature', 'bytes': len(signature), 'shown': mask(signature),
                  'note': 'HMAC-SHA256 of the id: a forged id costs no store round trip'}]
        structure = 'id.signature'
    elif backend.encrypt:
        parts = [{'part': 'encrypted payload', 'bytes': len(raw), 'shown': mask(raw),
                  'note': 'AES-256-GCM: version, nonce, ciphertext and tag in base64; '
                          'the browser can neither read nor change it'}]
        structure = 'base64(version, nonce, ciphertext, tag)'
    else:
        payload, signature = raw.split('.')
        parts = [{'part': 'payload', 'bytes': len(payload), 'shown': mask(payload),
                  'note': 'the session as base64 JSON: the browser can read it, not change it'},
                 {'part': 'signature', 'bytes': len(signature), 'shown': mask(signature),
                  'note': 'HMAC-SHA256 of the payload'}]
        structure = 'payload.signature'
    return {
        'name': backend.cookie.name,
        'flags': [{'name': name, 'value': value, 'protects': FLAG_NOTES[name]}
                  for name, value in flags.items()],
        # What the browser keeps, measured as the app measures it against the
        # limit (the Set-Cookie line, attributes included), and what it sends back.
        'bytes': len(backend.cookie.header(raw, max_age)),
        'sent_bytes': len(backend.cookie.name) + 1 + len(raw),
        'browser_limit_bytes': BROWSER_COOKIE_LIMIT,
        'structure': structure,
        'parts': parts,
        'session_id': mask(sid),
    }


def stored_record(request):
    """(raw cookie, session id, the record as stored) or None when this
    request has no session of ours. The record is read again from what the
    request holds, not from ``request.session.record``, whose ``touched`` the
    session factory has already moved when a slide was due."""
    backend = request.registry.session_backend
    session = request.session
    raw = read_cookie(request, backend.cookie.name)
    if session.sid is None or not raw:
        return None
    if backend.name == 'cookie':
        decoded = backend.decode(raw)
        return None if decoded is None else (raw, decoded[0], decoded[1])
    source = session.record.source
    return None if source is None else (raw, session.sid, Record.from_json(source))


def _server_facts(backend, sid, record):
    key = store_key(sid)
    if backend.name == 'cookie':
        return {'store': 'cookie', 'held_by': 'browser',
                'key': None, 'key_form': 'none: the browser holds the whole session',
                'handle': handle_of(key), 'bytes': None, 'max_bytes': BROWSER_COOKIE_LIMIT,
                'created_at': record.created, 'touched_at': record.touched,
                'user_id': record.user_id, 'user_agent': None, 'ip': None,
                'data': record.data}
    form = KEY_FORMS[backend.name]
    if backend.name == 'redis':
        form = form.format(prefix=backend.store.prefix)
    return {'store': backend.name, 'held_by': 'server',
            'key': key[:KEY_SHOWN] + '…', 'key_form': form, 'handle': handle_of(key),
            'bytes': len(record.source.encode('utf-8')), 'max_bytes': backend.max_bytes,
            'created_at': record.created, 'touched_at': record.touched,
            'user_id': record.user_id, 'user_agent': record.user_agent, 'ip': record.ip,
            'data': record.data}


def _expiry_facts(timeouts, record, now):
    idle_at = record.touched + timeouts.idle
    absolute_at = record.created + timeouts.absolute
    next_slide = record.touched + timeouts.touch_interval
    return {'idle_timeout': timeouts.idle, 'absolute_timeout': timeouts.absolute,
            'touch_interval': timeouts.touch_interval,
            'idle_expires_at': idle_at, 'idle_seconds_left': max(0, int(idle_at - now)),
            'absolute_expires_at': absolute_at,
            'absolute_seconds_left': max(0, int(absolute_at - now)),
            'expires_at': min(idle_at, absolute_at),
            'last_slid_at': record.touched, 'next_slide_at': next_slide,
            'slide_due': next_slide <= now}


def _request_facts(request, backend, raw):
    # No timing with observe.enabled = false (a benchmark's switch): all zeros.
    timing = request.__dict__.get('timing') or RequestTiming()
    calls = list(timing.calls)
    trips = f'{len(calls)} round trip{"" if len(calls) == 1 else "s"}'
    loaded = ('read from the cookie itself: no store' if backend.name == 'cookie'
              else f'the record loaded from the {backend.name} store')
    if backend.name == 'cookie' and calls:
        checked = 'revocation looked up in the users database (epoch, deny list)'
    elif backend.name == 'cookie':
        checked = ('revocation already known to this process: nothing revoked anywhere '
                   'since it was looked up')
    else:
        checked = 'nothing more to check: a revoked session is gone from the store'
    now = {6: f'sent {len(backend.cookie.name) + 1 + len(raw)} bytes of cookie '
              'with this request',
           7: f'signature verified; {loaded}; {checked}; '
              f'{trips} so far, {_ms(timing.store_seconds)} ms; '
              'the user taken from the session, no users-database query',
           8: 'not this request: viewing writes nothing and keeps the session'}
    return {
        'round_trips': len(calls),
        'store_ms': _ms(timing.store_seconds),
        'load_ms': _ms(timing.load), 'identity_ms': _ms(timing.identity),
        'calls': [{'store': c.store, 'op': c.op, 'ms': _ms(c.seconds), 'ok': c.ok}
                  for c in calls],
        'writes': False, 'set_cookie': False,
        'steps': [{'step': n, 'title': title,
                   'this_request': now.get(n, 'done at login, before this request')}
                  for n, title in STEPS],
    }


def inspect(request):
    """The facts, times as Unix seconds (the views format them); None when
    the request has no session (the security policy lets no such request in)."""
    found = stored_record(request)
    if found is None:
        return None
    raw, sid, record = found
    backend = request.registry.session_backend
    now = backend.clock()
    return {'store': backend.name,
            'cookie': _cookie_facts(backend, raw, now, record.created, sid),
            'record': _server_facts(backend, sid, record),
            'expiry': _expiry_facts(backend.timeouts, record, now),
            'request': _request_facts(request, backend, raw)}
