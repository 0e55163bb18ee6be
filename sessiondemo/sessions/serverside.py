"""The backend of every store that keeps sessions on the server.

The cookie holds ``<id>.<signature>``: an id of 128 random bits, signed so that
a forged or garbage cookie is rejected without a store round trip. The store
(interfaces.Store) sees only the id's SHA-256.
"""
import threading
import time

from .. import entropy
from ..errors import SessionTooLarge, StoreUnavailable
from .interfaces import CONFLICT, MISSING
from .record import USERID_KEY, Record, changes_between, client_metadata, store_key
from .cookies import COOKIE_SID, read_cookie
from .session import Session, open_session

# Writers of one session in this process take turns (a lock per stripe of
# keys: bounded memory, no lock held across two sessions), so they never
# conflict with each other; writers in other processes are met by the
# compare-and-set, retried until ``merge_timeout`` (the store timeout) has passed.
LOCK_STRIPES = 64


class ServerSideBackend:
    """interfaces.SessionBackend over an interfaces.Store."""

    def __init__(self, store, signer, timeouts, cookie, max_bytes=65536, clock=time.time,
                 merge_timeout=1.0):
        self.store = store
        self.signer = signer
        self.timeouts = timeouts
        self.cookie = cookie
        self.max_bytes = max_bytes
        self.clock = clock
        self.name = store.name
        self.merge_timeout = merge_timeout
        self._write_locks = [threading.Lock() for _ in range(LOCK_STRIPES)]

    def __call__(self, request):
        raw = read_cookie(request, self.cookie.name)
        unsigned = self.signer.unsign(raw) if raw else None
        if unsigned is None:
            request.environ[COOKIE_SID] = None
            return Session(self)
        sid, current_key = unsigned
        request.environ[COOKIE_SID] = sid
        record = self.store.load(store_key(sid))      # StoreUnavailable propagates
        return open_session(self, record, sid, reissue=not current_key)

    def session_id(self, request):
        """The id a validly signed cookie names (no store round trip), or None."""
        environ = request.environ
        if COOKIE_SID not in environ:
            raw = read_cookie(request, self.cookie.name)
            unsigned = self.signer.unsign(raw) if raw else None
            environ[COOKIE_SID] = unsigned[0] if unsigned else None
        return environ[COOKIE_SID]

    def ping(self):
        self.store.ping()

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
        session.sid = entropy.token_urlsafe(16)    # 128 bits from the OS CSPRNG
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
        deadline = time.monotonic() + self.merge_timeout
        with self._write_locks[hash(key) % LOCK_STRIPES]:
            while True:
                record = base.merged(changed, removed, now, user_agent, ip)
                blob = self._checked_blob(record)
                outcome = self.store.replace(key, record, blob,
                                             record.expires_at(self.timeouts),
                                             expected=base.source)
                if outcome != CONFLICT:
                    return outcome
                if time.monotonic() > deadline:
                    # Other processes won every round for a whole store timeout.
                    raise StoreUnavailable('The session is changing too fast; try again.')
                base = self.store.load(key)
                if base is None:
                    return MISSING

    def _set_cookie(self, response, session, now):
        # Max-Age is the absolute lifetime: the idle expiry slides on the server
        # without a Set-Cookie.
        max_age = session.record.created + self.timeouts.absolute - now
        self.cookie.set(response, self.signer.sign(session.sid), max_age)
