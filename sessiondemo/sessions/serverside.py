"""The backend of every store that keeps sessions on the server.

The cookie holds ``<id>.<signature>``: an id of 128 random bits, signed so that
a forged or garbage cookie is rejected without a store round trip. The store
(interfaces.Store) sees only the id's SHA-256.
"""
import time

from .. import entropy
from .record import (USERID_KEY, Record, changes_between, checked_blob, client_metadata,
                     store_key)
from .cookies import opened_cookie
from .merging import Change, MergingWriter
from .session import Session, open_session


class ServerSideBackend:
    """interfaces.SessionBackend over an interfaces.Store."""

    def __init__(self, store, signer, timeouts, cookie, max_bytes=65536, clock=time.time,
                 merge_timeout=1.0):
        self._writer = MergingWriter(store, timeouts, max_bytes, merge_timeout)
        self.signer = signer
        self.timeouts = timeouts
        self.cookie = cookie
        self.max_bytes = max_bytes
        self.clock = clock
        self.name = store.name

    @property
    def store(self):
        return self._writer.store

    @store.setter
    def store(self, store):     # a test seam: a wrapped store, for the writes too
        self._writer.store = store

    def __call__(self, request):
        unsigned = opened_cookie(request, self.cookie.name, self.signer.unsign)
        if unsigned is None:
            return Session(self)
        sid, current_key = unsigned
        record = self.store.load(store_key(sid))      # StoreUnavailable propagates
        return open_session(self, record, sid, reissue=not current_key)

    def session_id(self, request):
        """The id a validly signed cookie names (no store round trip), or None."""
        unsigned = opened_cookie(request, self.cookie.name, self.signer.unsign)
        return unsigned[0] if unsigned else None

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

    def _save(self, request, response, session, now):
        user_agent, ip = client_metadata(request)
        if session.sid is not None:
            self._merge_save(session, now, user_agent, ip)
            if session.reissue:
                self._set_cookie(response, session, now)
            return
        record = Record(data=dict(session), created=session.record.created, touched=now,
                        user_id=session.get(USERID_KEY), user_agent=user_agent, ip=ip)
        blob = checked_blob(record, self.max_bytes)
        for sid in session.invalidated:
            self.store.delete(store_key(sid))
        session.sid = entropy.token_urlsafe(16)    # 128 bits from the OS CSPRNG
        session.record = record
        self.store.save(store_key(session.sid), record, blob, record.expires_at(self.timeouts))
        self._set_cookie(response, session, now)

    def _merge_save(self, session, now, user_agent, ip):
        """Only what this request changed, written onto the record as it is in
        the store now (merging.py): REPLACED, or MISSING for a session gone."""
        base = session.record
        before = Record.from_json(base.source).data if base.source else {}
        changed, removed = changes_between(before, dict(session))
        return self._writer.write(Change(store_key(session.sid), base, changed, removed,
                                         now, user_agent, ip))

    def _set_cookie(self, response, session, now):
        # Max-Age is the absolute lifetime: the idle expiry slides on the server
        # without a Set-Cookie.
        max_age = session.record.created + self.timeouts.absolute - now
        self.cookie.set(response, self.signer.sign(session.sid), max_age)
