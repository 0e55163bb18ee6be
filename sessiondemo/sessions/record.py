"""What a store keeps for one session, and how it is named.

A ``Record`` is the session's data with its times and who it belongs to,
serialized as JSON (never pickle). Stores see only ``store_key(id)``, the
SHA-256 of the id, and the API only ``handle_of(key)``.
"""
import hashlib
from dataclasses import dataclass, field

from .. import fastjson
from ..errors import SessionTooLarge

USERID_KEY = 'auth.userid'   # SessionAuthenticationHelper's default key
USERNAME_KEY = 'auth.username'
EPOCH_KEY = 'auth.epoch'     # the user's session epoch at login (see security.py)


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
    # compares against (see serverside.ServerSideBackend). Not part of equality.
    source: str = field(default=None, compare=False, repr=False)

    def expires_at(self, timeouts):
        return min(self.touched + timeouts.idle, self.created + timeouts.absolute)

    def to_json(self):
        return fastjson.dumps({'d': self.data, 'c': self.created, 't': self.touched,
                               'u': self.user_id, 'a': self.user_agent, 'i': self.ip})

    @classmethod
    def from_json(cls, text):
        """ValueError for anything that is not a record we wrote."""
        raw = fastjson.loads(text)
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


def changes_between(before, after):
    """(changed, removed): the top-level keys a request set and deleted."""
    changed = {k: v for k, v in after.items()
               if k not in before or fastjson.canonical(v) != fastjson.canonical(before[k])}
    return changed, set(before) - set(after)


def checked_blob(record, max_bytes):
    """``record.to_json()``, or SessionTooLarge past ``max_bytes`` bytes of UTF-8."""
    blob = record.to_json()
    if len(blob.encode('utf-8')) > max_bytes:
        raise SessionTooLarge()
    return blob


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
