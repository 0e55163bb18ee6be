"""Where failed password checks are counted: memory, SQL or Redis."""
import threading
from collections import OrderedDict

from sqlalchemy import case, delete, select

from ..models import LoginFailure


class MemoryCounter:
    """Counts in this process; bounded like the memory session store."""

    def __init__(self, clock, max_keys=100000):
        self.clock = clock
        self.max_keys = max_keys
        self._counts = OrderedDict()      # key -> [count, window_end]
        self._lock = threading.Lock()

    def get(self, keys):
        now = self.clock()
        with self._lock:
            return {k: tuple(self._counts[k]) for k in keys
                    if k in self._counts and self._counts[k][1] > now}

    def increment(self, keys, window):
        now = self.clock()
        with self._lock:
            for key in keys:
                entry = self._counts.get(key)
                if entry is None or entry[1] <= now:
                    entry = self._counts[key] = [0, now + window]
                entry[0] += 1
                self._counts.move_to_end(key)
            while len(self._counts) > self.max_keys:
                self._counts.popitem(last=False)

    def reset(self, key):
        with self._lock:
            self._counts.pop(key, None)


class SqlCounter:
    """Counts in the session store's database (the users database unless
    ``session.sql.url`` names another), through the store's own connection:
    autocommit, so the failed login's rollback does not take its count along."""

    def __init__(self, connection, clock):
        self.clock = clock
        self._run = connection.run
        self.insert = connection.insert

    def get(self, keys):
        now = self.clock()
        table = LoginFailure.__table__
        rows = self._run(lambda c: c.execute(
            select(table.c.key, table.c.count, table.c.window_end)
            .where(table.c.key.in_(keys), table.c.window_end > now)).all())
        return {key: (count, end) for key, count, end in rows}

    def increment(self, keys, window):
        now = self.clock()
        table = LoginFailure.__table__

        def work(connection):
            for key in keys:
                # One atomic statement per key: a new window, or one more failure
                # in the open one (concurrent failures never lose a count).
                statement = self.insert(table).values(key=key, count=1, window_end=now + window)
                statement = statement.on_conflict_do_update(
                    index_elements=[table.c.key],
                    set_={
                        'count': _case(table.c.window_end > now, table.c.count + 1, 1),
                        'window_end': _case(table.c.window_end > now, table.c.window_end,
                                            now + window),
                    })
                connection.execute(statement)
            # Expired windows are garbage; clearing them here keeps the table small.
            connection.execute(delete(table).where(table.c.window_end <= now - window))
        self._run(work)

    def reset(self, key):
        table = LoginFailure.__table__
        self._run(lambda c: c.execute(delete(table).where(table.c.key == key)))


def _case(condition, then, otherwise):
    return case((condition, then), else_=otherwise)


# KEYS: counters; ARGV[1] now, ARGV[2] window. Each value is "count:window_end";
# the window is decided by the app's clock, the TTL only collects garbage.
INCREMENT = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
for _, key in ipairs(KEYS) do
  local count, ends = 0, now + window
  local value = redis.call('GET', key)
  if value then
    local c, e = string.match(value, '^(%d+):(.+)$')
    if tonumber(e) > now then count, ends = tonumber(c), tonumber(e) end
  end
  redis.call('SET', key, (count + 1) .. ':' .. ends, 'PX', math.ceil(window * 1000))
end
return 1
"""


class RedisCounter:
    """Counts in the sessions' Redis, shared by every app process, on the
    session store's own client."""

    def __init__(self, connection, clock, prefix='sessiondemo:'):
        self.client = connection.client
        self.clock = clock
        self.prefix = prefix + 'login-failures:'
        self._call = connection.call
        self._increment = connection.register_script(INCREMENT)

    def get(self, keys):
        now = self.clock()
        values = [self._call(self.client.get, self.prefix + k) for k in keys]
        counts = {}
        for key, value in zip(keys, values):
            if value:
                count, end = value.decode().split(':')
                if float(end) > now:
                    counts[key] = (int(count), float(end))
        return counts

    def increment(self, keys, window):
        # One key per call: on a Redis Cluster a script may only touch one slot.
        for key in keys:
            self._call(self._increment, keys=[self.prefix + key],
                       args=[repr(self.clock()), window])

    def reset(self, key):
        self._call(self.client.delete, self.prefix + key)


def make_counter(app_settings, connections):
    """The counter ``auth.throttle_store`` names (config resolved ``auto``)."""
    kind, clock = app_settings.auth.throttle_store, app_settings.clock
    if kind == 'memory':
        return MemoryCounter(clock)
    if kind == 'redis':
        return RedisCounter(connections.redis(), clock,
                            prefix=app_settings.session.redis.prefix)
    return SqlCounter(connections.sql(), clock)
