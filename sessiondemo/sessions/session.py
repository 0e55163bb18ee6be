"""The session object every store shares, and the rules for opening one.

``Session`` is a dict implementing Pyramid's ``ISession`` in warehouse's manner:
only mutators mark it changed (reads never do), the id is made lazily (on the
first save), and ``invalidate()`` queues the old id for deletion. Its backend
(interfaces.SessionBackend) decides where it lives.
"""

from pyramid.interfaces import ISession
from zope.interface import implementer

from .. import entropy
from .record import Record


def _changes(method):
    def wrapped(self, *args, **kwargs):
        self._changed = True
        return method(self, *args, **kwargs)
    wrapped.__name__ = method.__name__
    return wrapped


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
        token = entropy.token_hex(20)
        self['_csrft_'] = token
        return token

    def get_csrf_token(self):
        return self.get('_csrft_') or self.new_csrf_token()


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
