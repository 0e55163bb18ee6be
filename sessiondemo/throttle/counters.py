"""Where password checks are counted: memory, SQL or Redis.

Every counter keeps, per key, a count and the end of its window, and offers
the same three operations, each atomic on its own (concurrent attempts never
lose or share a count):

- ``increment(keys, window)``: one more in each key's open window (a new
  window when it has closed); returns ``{key: (count, window_end)}`` as they
  are after this attempt, which is what the throttle decides on;
- ``decrement(keys)``: one back, in a window still open, never below zero;
- ``reset(key, give_back=())``: the key's window gone, one back for the others.
"""
import threading
from collections import OrderedDict

from sqlalchemy import case, delete, update

from ..models import LoginFailure


class MemoryCounter:
    """Counts in this process, under one lock; bounded like the memory session store."""

    def __init__(self, clock, max_keys=100000):
        self.clock = clock
        self.max_keys = max_keys
        self._counts = OrderedDict()      # key -> [count, window_end]
        self._lock = threading.Lock()

    def increment(self, keys, window):
        now = self.clock()
        counts = {}
        with self._lock:
            for key in keys:
                entry = self._counts.get(key)
                if entry is None or entry[1] <= now:
                    entry = self._counts[key] = [0, now + window]
                entry[0] += 1
                self._counts.move_to_end(key)
                counts[key] = (entry[0], entry[1])
            while len(self._counts) > self.max_keys:
                self._counts.popitem(last=False)
        return counts

    def decrement(self, keys):
        now = self.clock()
        with self._lock:
            for key in keys:
                entry = self._counts.get(key)
                if entry is not None and entry[1] > now and entry[0] > 0:
                    entry[0] -= 1

    def reset(self, key, give_back=()):
        with self._lock:
            self._counts.pop(key, None)
        if give_back:
            self.decrement(give_back)


class SqlCounter:
    """Counts in the session store's database (the users database unless
    ``session.sql.url`` names another), through the store's own connection:
    autocommit, so the failed login's rollback does not take its count along.
    ``increment`` is one upsert of every key, returning the counts (RETURNING:
    PostgreSQL, SQLite >= 3.35)."""

    def __init__(self, connection, clock):
        self.clock = clock
        self._run = connection.run
        self.insert = connection.insert

    def increment(self, keys, window):
        now = self.clock()
        table = LoginFailure.__table__
        statement = self.insert(table).values(
            [{'key': key, 'count': 1, 'window_end': now + window} for key in keys])
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                'count': _case(table.c.window_end > now, table.c.count + 1, 1),
                'window_end': _case(table.c.window_end > now, table.c.window_end,
                                    now + window),
            }).returning(table.c.key, table.c.count, table.c.window_end)

        def work(connection):
            counts = {key: (count, end) for key, count, end in connection.execute(statement)}
            if any(count == 1 for count, _ in counts.values()):
                # A window opened: clearing the long-closed ones here keeps the
                # table as small as the guessing going on.
                connection.execute(delete(table).where(table.c.window_end <= now - window))
            return counts
        return self._run(work)

    def _decrement(self, connection, keys, now):
        table = LoginFailure.__table__
        connection.execute(update(table).where(
            table.c.key.in_(keys), table.c.window_end > now, table.c.count > 0,
        ).values(count=table.c.count - 1))

    def decrement(self, keys):
        now = self.clock()
        self._run(lambda connection: self._decrement(connection, keys, now))

    def reset(self, key, give_back=()):
        now = self.clock()
        table = LoginFailure.__table__

        def work(connection):
            connection.execute(delete(table).where(table.c.key == key))
            if give_back:
                self._decrement(connection, list(give_back), now)
        self._run(work)


def _case(condition, then, otherwise):
    return case((condition, then), else_=otherwise)


# KEYS[1]: one counter; ARGV[1] now, ARGV[2] window. The value is
# "count:window_end"; the window is decided by the app's clock, the TTL only
# collects garbage. Returns the count and the window's end, after this attempt.
INCREMENT = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local count, ends = 0, ARGV[1] + window
local value = redis.call('GET', KEYS[1])
if value then
  local c, e = string.match(value, '^(%d+):(.+)$')
  if c and tonumber(e) > now then count, ends = tonumber(c), e end
end
count = count + 1
redis.call('SET', KEYS[1], count .. ':' .. ends, 'PX', math.ceil(window * 1000))
return {count, tostring(ends)}
"""

# KEYS[1]: one counter; ARGV[1] now. One back in a window still open.
DECREMENT = """
local value = redis.call('GET', KEYS[1])
if value then
  local c, e = string.match(value, '^(%d+):(.+)$')
  if c and tonumber(e) > tonumber(ARGV[1]) and tonumber(c) > 0 then
    redis.call('SET', KEYS[1], (tonumber(c) - 1) .. ':' .. e, 'KEEPTTL')
  end
end
return 1
"""


class RedisCounter:
    """Counts in the sessions' Redis, shared by every app process, on the
    session store's own client. One key per script call: on a Redis Cluster
    a script may only touch one slot."""

    def __init__(self, connection, clock, prefix='sessiondemo:'):
        self.client = connection.client
        self.clock = clock
        self.prefix = prefix + 'login-failures:'
        self._call = connection.call
        self._increment = connection.register_script(INCREMENT)
        self._decrement = connection.register_script(DECREMENT)

    def increment(self, keys, window):
        counts = {}
        for key in keys:
            count, end = self._call(self._increment, keys=[self.prefix + key],
                                    args=[repr(self.clock()), window])
            counts[key] = (int(count), float(end))
        return counts

    def decrement(self, keys):
        for key in keys:
            self._call(self._decrement, keys=[self.prefix + key], args=[repr(self.clock())])

    def reset(self, key, give_back=()):
        self._call(self.client.delete, self.prefix + key)
        if give_back:
            self.decrement(give_back)


def make_counter(app_settings, connections):
    """The counter ``auth.throttle_store`` names (config resolved ``auto``)."""
    kind, clock = app_settings.auth.throttle_store, app_settings.clock
    if kind == 'memory':
        return MemoryCounter(clock)
    if kind == 'redis':
        return RedisCounter(connections.redis(), clock,
                            prefix=app_settings.session.redis.prefix)
    return SqlCounter(connections.sql(), clock)
