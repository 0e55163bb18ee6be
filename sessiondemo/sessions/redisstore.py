"""Redis store on redis-py: one key per session, JSON, expiry by TTL.

Round trips are the point of this module (the issue measured the peer,
pyramid_session_redis, at GET + EXPIRE on every read):

- an authenticated read is one ``GET`` and writes nothing;
- a read that slides the idle expiry (once per ``session.touch_interval``) adds
  one ``EVALSHA`` of ``TOUCH`` below;
- a save is one ``SET ... PX``; a delete one ``DEL``. A save of a logged-in
  session also refreshes its user's index (below) in the same pipelined round
  trip: four more commands, on the rare requests that change a session.

Why a script rather than ``GETEX``: the core decides whether a touch is due
from the ``touched`` time *inside* the value, so the store only knows after the
``GET``; and a touch must also move that ``touched`` time, which ``GETEX`` or
``PEXPIRE`` cannot do (a stale ``touched`` would make every later read look due
and end the session at the old idle expiry). Rewriting the whole value with
``SET`` could clobber a concurrent save of new data. So the value keeps
``touched`` in a fixed-width field at a fixed offset, and ``TOUCH`` patches just
those bytes with ``SETRANGE`` and moves the TTL, atomically, and only if the
key still exists (a touch never revives a session that was logged out).

Keys: ``<prefix>{s:<sha256>}`` per session (the core passes the SHA-256 of the
id, never the id). The braces are a Redis Cluster hash tag: each session hashes
on its own key, so sessions spread over the cluster; per-user keys (issue 5's
index of a user's sessions) go under ``<prefix>{u:<id>}...`` so that every key
of one user shares a slot and can be changed together. A prefix must therefore
hold no braces of its own.

A user's index is a sorted set of their session keys scored by the latest time
each could live (created + absolute timeout), so the index never expires before
a session it names, however often that session is touched. Deleting a session
leaves its member behind (``delete`` is given no user); ``sessions_of`` prunes
members whose session is gone. Needs Redis 7 (``PEXPIRE ... NX|GT``).
"""
import math

from .interfaces import CONFLICT, MISSING, REPLACED
from .record import Record

# The stored value is JSON: {"t":<touched, 20 chars>,"r":<Record.to_json()>}.
# JSON allows the spaces that pad the number, so the field has a fixed width and
# TOUCH can overwrite it in place; "t" outside the record wins over the record's.
TOUCHED_OFFSET = len('{"t":')
TOUCHED_WIDTH = 20
HEADER_END = TOUCHED_OFFSET + TOUCHED_WIDTH + len(',"r":')

TOUCH = """
-- KEYS[1] a session key; ARGV[1] the touched field; ARGV[2] milliseconds to live.
-- PEXPIRE answers 0 when the key is gone: then write nothing.
if redis.call('PEXPIRE', KEYS[1], ARGV[2]) == 1 then
  redis.call('SETRANGE', KEYS[1], %d, ARGV[1])
  return 1
end
return 0
""" % TOUCHED_OFFSET


REPLACE = """
-- Compare-and-set. KEYS[1] a session key; ARGV[1] the record JSON the caller
-- read; ARGV[2] the new value; ARGV[3] milliseconds to live.
-- Answers -1 when the key is gone (logged out: stay gone), 0 when the record
-- changed since the caller read it, 1 when written.
local current = redis.call('GET', KEYS[1])
if not current then return -1 end
if string.sub(current, %d, -2) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
""" % (HEADER_END + 1)
REPLACE_OUTCOMES = {-1: MISSING, 0: CONFLICT, 1: REPLACED}


def touched_field(touched):
    # repr: the shortest text that reads back as the same float.
    field = repr(float(touched)).rjust(TOUCHED_WIDTH)
    if len(field) != TOUCHED_WIDTH:
        raise ValueError(f'touched time out of range: {touched}')
    return field


def encode(record, blob):
    return '{"t":' + touched_field(record.touched) + ',"r":' + blob + '}'


def decode(value):
    """The record in a stored value; ValueError for anything we did not write."""
    text = value.decode('utf-8')
    if not (text.startswith('{"t":') and text[HEADER_END - 5:HEADER_END] == ',"r":'
            and text.endswith('}')):
        raise ValueError('not a session value')
    record = Record.from_json(text[HEADER_END:-1])
    record.touched = float(text[TOUCHED_OFFSET:TOUCHED_OFFSET + TOUCHED_WIDTH])
    return record


def _escape_glob(text):
    return ''.join('\\' + c if c in '*?[]\\' else c for c in text)


class RedisStore:
    name = 'redis'

    def __init__(self, connection, prefix='sessiondemo:', clock=None, absolute=86400):
        # The prefix has no braces (config.read_redis): they would become the
        # hash tag of every key.
        self.connection = connection          # connections.redis.RedisConnection
        self.client = connection.client
        self.prefix = prefix
        self.clock = clock
        self.absolute = absolute
        self._call = connection.call
        self._command = connection.command
        self._touch = connection.register_script(TOUCH)
        self._replace = connection.register_script(REPLACE)

    # Key names (see the module docstring for the hash tags).
    def session_key(self, key):
        return f'{self.prefix}{{s:{key}}}'

    def user_key(self, user_id, suffix='sessions'):
        return f'{self.prefix}{{u:{user_id}}}:{suffix}'

    def _ttl_ms(self, expires_at):
        return math.ceil((expires_at - self.clock()) * 1000)

    def load(self, key):
        value = self._command('GET', self.session_key(key))
        if value is None:
            return None
        try:
            return decode(value)
        except (ValueError, UnicodeDecodeError):
            return None         # not ours: as good as no session

    def save(self, key, record, blob, expires_at):
        ttl = self._ttl_ms(expires_at)
        if ttl <= 0:
            return self.delete(key)
        value = encode(record, blob).encode('utf-8')
        if record.user_id is None:
            return self._command('SET', self.session_key(key), value, 'PX', ttl)
        index = self.user_key(record.user_id)
        last = record.created + self.absolute
        index_ttl = self._ttl_ms(last)
        pipe = self.client.pipeline(transaction=False)
        pipe.set(self.session_key(key), value, px=ttl)
        pipe.zadd(index, {key: last})
        pipe.zremrangebyscore(index, '-inf', self.clock())
        pipe.pexpire(index, index_ttl, nx=True)     # a new index gets an expiry,
        pipe.pexpire(index, index_ttl, gt=True)     # an old one only a longer one
        self._call(pipe.execute)

    def replace(self, key, record, blob, expires_at, expected):
        """One EVALSHA: write over the version the caller read, or say why not.
        The user's index needs no change: the key, its user and its absolute
        expiry are those of the save that created it."""
        ttl = self._ttl_ms(expires_at)
        if ttl <= 0 or expected is None:
            return MISSING
        outcome = self.connection.script(self._replace, [self.session_key(key)],
                                         [expected.encode('utf-8'),
                                          encode(record, blob).encode('utf-8'), ttl])
        return REPLACE_OUTCOMES[outcome]

    def touch(self, key, record, expires_at):
        ttl = self._ttl_ms(expires_at)
        if ttl <= 0:
            return self.delete(key)
        self.connection.script(self._touch, [self.session_key(key)],
                               [touched_field(record.touched), ttl])

    def delete(self, key):
        self._command('DEL', self.session_key(key))

    def sessions_of(self, user_id):
        """[(key, record)] of the user's sessions: one ZRANGEBYSCORE and one MGET."""
        index = self.user_key(user_id)
        keys = [k.decode('ascii') for k in self._call(
            self.client.zrangebyscore, index, f'({self.clock()}', '+inf')]
        if not keys:
            return []
        # Across slots on a cluster: redis-py splits the MGET per node.
        mget = self.client.mget_nonatomic if self.connection.cluster else self.client.mget
        values = self._call(mget, [self.session_key(k) for k in keys])
        found, gone = [], []
        for key, value in zip(keys, values):
            try:
                found.append((key, decode(value)))
            except (AttributeError, ValueError, UnicodeDecodeError):
                gone.append(key)        # None (deleted, expired) or not ours
        if gone:
            self._call(self.client.zrem, index, *gone)
        return found

    def purge_expired(self):
        return 0        # Redis expires keys by itself

    def ping(self):
        self._call(self.client.ping)
        return True

    def count(self):
        """Session keys under this prefix (tests and benchmarks; SCAN, not for requests)."""
        match = _escape_glob(self.prefix) + '{s:*'
        return self._call(lambda: sum(1 for _ in self.client.scan_iter(match=match,
                                                                        count=1000)))


def make_store(app_settings, connections):
    session = app_settings.session
    return RedisStore(connections.redis(), prefix=session.redis.prefix,
                      clock=app_settings.clock, absolute=session.timeouts.absolute)
