"""The session object and the rules every store shares.

``Session`` is a dict implementing Pyramid's ``ISession`` in warehouse's manner:
only mutators mark it changed (reads never do), the id is made lazily, and
``invalidate()`` queues the old id for deletion. Where the session lives is
decided by a *backend*: ``ServerSideBackend`` keeps it in a ``Store`` (memory,
Redis, SQL) and puts only a signed id in the cookie; ``cookie.CookieBackend``
puts the whole session in the cookie.

A backend is the session factory (``backend(request)`` loads the session) and
``backend.persist(request, response, session)`` saves it. Saving happens in a
tween below Pyramid's exception view tween, not in a response callback, so a
store that is down or a session that is too large becomes a 503 or a 413 with
the contract's error shape instead of an uncaught exception.
"""
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field

from pyramid.interfaces import ISession
from webob.cookies import make_cookie
from zope.interface import implementer

from ..errors import SessionTooLarge, StoreUnavailable

USERID_KEY = 'auth.userid'   # SessionAuthenticationHelper's default key
EPOCH_KEY = 'auth.epoch'     # the user's session epoch at login (see security.py)


def _changes(method):
    def wrapped(self, *args, **kwargs):
        self._changed = True
        return method(self, *args, **kwargs)
    wrapped.__name__ = method.__name__
    return wrapped


@dataclass
class Record:
    """What a store keeps for one session. Times are Unix seconds."""
    data: dict
    created: float
    touched: float
    user_id: object = None
    user_agent: str = ''
    ip: str = ''
    # The JSON this record was read from: the version a conflict-safe write
    # compares against (see ServerSideBackend._merge_save). Not part of equality.
    source: str = field(default=None, compare=False, repr=False)

    def expires_at(self, timeouts):
        return min(self.touched + timeouts.idle, self.created + timeouts.absolute)

    def to_json(self):
        return json.dumps({'d': self.data, 'c': self.created, 't': self.touched,
                           'u': self.user_id, 'a': self.user_agent, 'i': self.ip},
                          separators=(',', ':'), ensure_ascii=False)

    @classmethod
    def from_json(cls, text):
        """ValueError for anything that is not a record we wrote."""
        raw = json.loads(text)
        if not isinstance(raw, dict) or not isinstance(raw.get('d'), dict):
            raise ValueError('not a session record')
        return cls(data=raw['d'], created=float(raw['c']), touched=float(raw['t']),
                   user_id=raw.get('u'), user_agent=raw.get('a') or '', ip=raw.get('i') or '',
                   source=text)

    def merged(self, changed, removed, touched, user_agent, ip):
        """This record with one request's changes applied on top."""
        data = {k: v for k, v in self.data.items() if k not in removed}
        data.update(changed)
        return Record(data=data, created=self.created, touched=touched,
                      user_id=data.get(USERID_KEY), user_agent=user_agent, ip=ip)


# What Store.replace answers.
REPLACED, CONFLICT, MISSING = 'replaced', 'conflict', 'missing'
MERGE_ATTEMPTS = 8


def _canonical(value):
    return json.dumps(value, sort_keys=True, separators=(',', ':'))


def changes_between(before, after):
    """(changed, removed): the top-level keys a request set and deleted."""
    changed = {k: v for k, v in after.items()
               if k not in before or _canonical(v) != _canonical(before[k])}
    return changed, set(before) - set(after)


@dataclass(frozen=True)
class Timeouts:
    idle: int = 1800
    absolute: int = 86400
    touch_interval: int = 60

    def __post_init__(self):
        # A touch interval over half the idle timeout could let a session in
        # steady use expire between two touches: clamp it.
        object.__setattr__(self, 'touch_interval', min(self.touch_interval, self.idle // 2))


@dataclass(frozen=True)
class CookieSettings:
    name: str = 'sid'
    secure: bool = False
    path: str = '/'
    samesite: str = 'Lax'
    httponly: bool = True

    def set(self, response, value, max_age):
        response.set_cookie(self.name, value, max_age=max(0, int(max_age)), path=self.path,
                            secure=self.secure, httponly=self.httponly, samesite=self.samesite)

    def delete(self, response):
        response.set_cookie(self.name, '', max_age=0, path=self.path, secure=self.secure,
                            httponly=self.httponly, samesite=self.samesite)

    def header_length(self, value, max_age):
        """Bytes of the Set-Cookie value a browser must keep (its 4096-byte
        limit), serialized exactly as ``set`` will send it, Expires included."""
        return len(make_cookie(self.name, value, max_age=max(0, int(max_age)), path=self.path,
                               secure=self.secure, httponly=self.httponly,
                               samesite=self.samesite))


@implementer(ISession)
class Session(dict):
    """One client's session: its data, when it began, and what must be saved."""

    def __init__(self, backend, record=None, sid=None, reissue=False, touch_due=False):
        now = backend.clock()
        record = record or Record(data={}, created=now, touched=now)
        super().__init__(record.data)
        self.backend = backend
        self.record = record
        self.sid = sid                   # None until the first save: made lazily
        self.new = sid is None
        self.had_cookie = sid is not None
        self.invalidated = set()         # ids whose records must be deleted
        self.reissue = reissue           # cookie signed with an older key
        self.touch_due = touch_due       # idle expiry should slide on this request
        self._changed = False

    # ISession
    @property
    def created(self):
        return self.record.created

    @property
    def expires_at(self):
        return self.record.expires_at(self.backend.timeouts)

    def changed(self):
        self._changed = True

    def invalidate(self):
        """Forget everything and stop using this id; a save makes a new one."""
        if self.sid is not None:
            self.invalidated.add(self.sid)
        self.sid = None
        self.new = True
        dict.clear(self)
        now = self.backend.clock()
        self.record = Record(data={}, created=now, touched=now)
        self._changed = True

    __setitem__ = _changes(dict.__setitem__)
    __delitem__ = _changes(dict.__delitem__)
    clear = _changes(dict.clear)
    pop = _changes(dict.pop)
    popitem = _changes(dict.popitem)
    setdefault = _changes(dict.setdefault)
    update = _changes(dict.update)

    @property
    def is_changed(self):
        return self._changed

    # Flash messages, as ISession requires.
    def flash(self, msg, queue='', allow_duplicate=True):
        storage = list(self.get('_f_' + queue, []))
        if allow_duplicate or msg not in storage:
            storage.append(msg)
            self['_f_' + queue] = storage

    def pop_flash(self, queue=''):
        return list(self.pop('_f_' + queue, []))

    def peek_flash(self, queue=''):
        return list(self.get('_f_' + queue, []))

    # CSRF lives in its own cookie (CookieCSRFStoragePolicy), independent of the
    # store; these satisfy the interface for code that asks the session anyway.
    def new_csrf_token(self):
        token = secrets.token_hex(20)
        self['_csrft_'] = token
        return token

    def get_csrf_token(self):
        return self.get('_csrft_') or self.new_csrf_token()


def store_key(sid):
    """Stores never see a session id, only its SHA-256: a dump of the store
    (or a leaked Redis key list) gives nobody a cookie that works."""
    return hashlib.sha256(sid.encode('ascii')).hexdigest()


def handle_of(key):
    """A public name for a session that reveals neither its id nor its store key."""
    return hashlib.sha256(('handle:' + key).encode('ascii')).hexdigest()[:16]


def client_metadata(request):
    agent = request.user_agent or ''
    return agent[:256], request.client_addr or ''


def describe(key, record, current):
    """One row of GET /api/sessions."""
    return {'handle': handle_of(key), 'created_at': record.created,
            'last_seen_at': record.touched, 'user_agent': record.user_agent,
            'ip': record.ip, 'current': current}


def open_session(backend, record, sid, reissue):
    """The session a stored or cookie record gives, by the rules every store
    shares: past the idle or absolute expiry, or dated in the future (a
    clock-skewed or forged record), it is no session; in use, its idle expiry
    slides, at most once per touch interval."""
    now = backend.clock()
    timeouts = backend.timeouts
    if record is None or record.expires_at(timeouts) <= now or record.created > now + 60:
        return Session(backend)
    touch_due = now - record.touched >= timeouts.touch_interval
    if touch_due:
        record.touched = now
    return Session(backend, record, sid=sid, reissue=reissue, touch_due=touch_due)


class ServerSideBackend:
    """Session factory for the stores that keep sessions on the server.

    The cookie holds ``<id>.<signature>``: an id of 128 random bits, signed so
    that a forged or garbage cookie is rejected without a store round trip.
    """

    def __init__(self, store, signer, timeouts, cookie, max_bytes=65536, clock=time.time):
        self.store = store
        self.signer = signer
        self.timeouts = timeouts
        self.cookie = cookie
        self.max_bytes = max_bytes
        self.clock = clock
        self.name = store.name

    def __call__(self, request):
        raw = request.cookies.get(self.cookie.name)
        unsigned = self.signer.unsign(raw) if raw else None
        if unsigned is None:
            return Session(self)
        sid, current_key = unsigned
        record = self.store.load(store_key(sid))      # StoreUnavailable propagates
        return open_session(self, record, sid, reissue=not current_key)

    def ping(self):
        self.store.ping()

    # A user's sessions (the contract's "Managing one's sessions") ----------
    def list_sessions(self, request, user_id):
        """The user's live sessions, newest first."""
        now = self.clock()
        current = store_key(request.session.sid) if request.session.sid else None
        rows = [describe(key, record, key == current)
                for key, record in self.store.sessions_of(user_id)
                if record.expires_at(self.timeouts) > now]
        return sorted(rows, key=lambda row: row['created_at'], reverse=True)

    def revoke(self, request, user_id, handle):
        """Delete the user's session named by ``handle``; False if there is none."""
        for key, record in self.store.sessions_of(user_id):
            if handle_of(key) == handle:
                if request.session.sid and key == store_key(request.session.sid):
                    request.session.invalidate()     # revoking oneself is logging out
                else:
                    self.store.delete(key)
                return True
        return False

    def revoke_others(self, request, user_id):
        """Delete every other session of the user; how many were still live."""
        now = self.clock()
        current = store_key(request.session.sid) if request.session.sid else None
        others = [(key, record) for key, record in self.store.sessions_of(user_id)
                  if key != current]
        for key, _ in others:
            self.store.delete(key)
        return sum(1 for _, record in others if record.expires_at(self.timeouts) > now)

    def persist(self, request, response, session):
        now = self.clock()
        if session.is_changed and dict(session):
            self._save(request, response, session, now)
        elif session.is_changed:
            # Nothing left to keep: no record, and no cookie.
            for sid in session.invalidated | ({session.sid} if session.sid else set()):
                self.store.delete(store_key(sid))
            if session.had_cookie:
                self.cookie.delete(response)
        elif session.touch_due:
            record = session.record
            self.store.touch(store_key(session.sid), record, record.expires_at(self.timeouts))
        if session.reissue and session.sid and not session.is_changed:
            self._set_cookie(response, session, now)

    def _checked_blob(self, record):
        blob = record.to_json()
        if len(blob.encode('utf-8')) > self.max_bytes:
            raise SessionTooLarge()
        return blob

    def _save(self, request, response, session, now):
        user_agent, ip = client_metadata(request)
        if session.sid is not None:
            self._merge_save(session, now, user_agent, ip)
            if session.reissue:
                self._set_cookie(response, session, now)
            return
        record = Record(data=dict(session), created=session.record.created, touched=now,
                        user_id=session.get(USERID_KEY), user_agent=user_agent, ip=ip)
        blob = self._checked_blob(record)
        for sid in session.invalidated:
            self.store.delete(store_key(sid))
        session.sid = secrets.token_urlsafe(16)    # 128 bits from the OS CSPRNG
        session.record = record
        self.store.save(store_key(session.sid), record, blob, record.expires_at(self.timeouts))
        self._set_cookie(response, session, now)

    def _merge_save(self, session, now, user_agent, ip):
        """Write only what this request changed, onto the record as it is in the
        store now, compare-and-set against the version this request read.

        Two requests of one session that change different keys both keep their
        change (a plain overwrite loses one: connect-redis #333/#346/#347). And a
        record that is gone, because the session logged out or was revoked while
        this request ran, stays gone: no write brings it back (connect-redis #328).
        """
        key = store_key(session.sid)
        base = session.record
        before = Record.from_json(base.source).data if base.source else {}
        changed, removed = changes_between(before, dict(session))
        for _ in range(MERGE_ATTEMPTS):
            record = base.merged(changed, removed, now, user_agent, ip)
            blob = self._checked_blob(record)
            outcome = self.store.replace(key, record, blob, record.expires_at(self.timeouts),
                                         expected=base.source)
            if outcome != CONFLICT:
                return outcome
            base = self.store.load(key)
            if base is None:
                return MISSING
        # Only under a storm of writes to one session: say so rather than lose one.
        raise StoreUnavailable('The session is changing too fast; try again.')

    def _set_cookie(self, response, session, now):
        # Max-Age is the absolute lifetime: the idle expiry slides on the server
        # without a Set-Cookie.
        max_age = session.record.created + self.timeouts.absolute - now
        self.cookie.set(response, self.signer.sign(session.sid), max_age)


def session_tween_factory(handler, registry):
    def session_tween(request):
        response = handler(request)
        session = request.__dict__.get('session')   # only if a view asked for it
        if session is not None and hasattr(session, 'backend'):
            session.backend.persist(request, response, session)
        return response
    return session_tween
