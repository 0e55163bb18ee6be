"""The whole session in the cookie, the client-sessions way, done carefully.

- JSON, never pickle: a leaked key lets an attacker forge a session, but never
  run code on the server.
- Signed with HMAC-SHA256, or encrypted with AES-GCM when
  ``session.cookie.encrypt = true`` (then the client cannot read it either).
- Created and last-touched times live inside the signed payload, so the idle
  and absolute timeouts hold even against a client that keeps an old cookie.
- Re-issued only when something changed, when the idle expiry is due to slide
  (once per touch interval), or when it was signed with an older key; Pyramid's
  ``SignedCookieSessionFactory`` re-signs it on every request by default.
- A session that would not fit in a browser's 4096-byte cookie is refused with
  413 ``session_too_large`` and the client keeps the cookie it had.
- Logout holds: a cookie session that logged out or was revoked goes on a deny
  list in the users database until it could have expired (revocation.py),
  checked with the user's session epoch in one lookup per request.
"""
import time

from .. import entropy, fastjson
from ..errors import SessionTooLarge
from ..urlsafe import b64decode, b64encode
from .cookies import opened_cookie
from .record import USERID_KEY, Record, store_key
from .session import Session, open_session
from .signing import Encrypter, Signer

BROWSER_COOKIE_LIMIT = 4096


class CookieBackend:
    name = 'cookie'

    def __init__(self, secrets_, timeouts, cookie, encrypt=False, clock=time.time,
                 revocation=None):
        self.timeouts = timeouts
        self.cookie = cookie
        self.clock = clock
        self.encrypt = encrypt
        self.revocation = revocation          # revocation.CookieRevocation
        if encrypt:
            # Bound to the cookie's name: no other cookie of ours opens as a session.
            self._box = Encrypter(secrets_, 'cookie session', context=cookie.name)
        else:
            self._signer = Signer(secrets_, 'cookie session')

    # encoding -------------------------------------------------------------
    def encode(self, sid, record):
        payload = fastjson.dumps({'s': sid, 'd': record.data, 'c': record.created,
                                  't': record.touched, 'u': record.user_id}).encode('utf-8')
        if self.encrypt:
            return self._box.encrypt(payload)
        return self._signer.sign(b64encode(payload))

    def decode(self, value):
        """(sid, record, made_with_current_key) or None for anything not ours."""
        if self.encrypt:
            opened = self._box.decrypt(value)
            if opened is None:
                return None
            payload, current = opened
        else:
            unsigned = self._signer.unsign(value)
            if unsigned is None:
                return None
            try:
                payload, current = b64decode(unsigned[0]), unsigned[1]
            except ValueError:
                return None
        try:
            raw = fastjson.loads(payload.decode('utf-8'))
            record = Record(data=raw['d'], created=float(raw['c']), touched=float(raw['t']),
                            user_id=raw.get('u'))
            sid = str(raw['s'])
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(record.data, dict):
            return None
        return sid, record, current

    # the session factory --------------------------------------------------
    def __call__(self, request):
        decoded = opened_cookie(request, self.cookie.name, self.decode)
        if decoded is None:
            return Session(self)
        sid, record, current = decoded
        return open_session(self, record, sid, reissue=not current)

    def session_id(self, request):
        """The id inside a cookie of ours, or None (decoded once a request)."""
        decoded = opened_cookie(request, self.cookie.name, self.decode)
        return decoded[0] if decoded else None

    def ping(self):
        return True

    def persist(self, request, response, session):
        now = self.clock()
        if session.is_changed and not dict(session):
            self._deny_invalidated(session, now)
            if session.had_cookie:
                self.cookie.delete(response)
            return
        if not (session.is_changed or session.touch_due or session.reissue):
            return
        record = session.record
        record.data = dict(session)
        record.touched = now
        record.user_id = session.get(USERID_KEY)
        if session.sid is None:
            session.sid = entropy.token_urlsafe(12)    # names the session; not a secret
        value = self.encode(session.sid, record)
        max_age = record.created + self.timeouts.absolute - now
        header = self.cookie.header(value, max_age)
        if len(header) > BROWSER_COOKIE_LIMIT:
            raise SessionTooLarge()                    # the old cookie stays good
        self._deny_invalidated(session, now)
        self.cookie.add(response, header)

    def _deny_invalidated(self, session, now):
        # Logged out, revoked, or replaced at login: a copy of the old cookie
        # must stop working now, not at its expiry.
        if self.revocation is not None:
            for sid in session.invalidated:
                self.revocation.deny(store_key(sid), now + self.timeouts.absolute)
        session.invalidated.clear()
