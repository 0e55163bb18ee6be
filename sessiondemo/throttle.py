"""Login throttling: a login form must not be an unlimited password oracle.

Failed logins are counted per username and per client address in fixed
windows: the first failure opens a window of ``auth.failure_window`` seconds;
once ``auth.max_failures`` failures (``auth.max_failures_per_address`` for an
address, 0 = off) are in it, every attempt, the right password included, gets
429 ``too_many_requests`` with ``Retry-After`` until the window closes. So the
legitimate user is never locked out longer than the window, and a success
resets the username's count (not the address's: one valid account must not
reset a guesser's budget).

Where the counts live (``auth.throttle_store``, default ``auto``): Redis when
the sessions are in Redis, otherwise SQL in the users database (every app
process sees the same counts), or ``memory`` for a single process.
"""
import math
import threading
import time
from collections import OrderedDict

from sqlalchemy import Column, Float, Integer, String, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from . import config as cfg
from .errors import StoreUnavailable, TooManyRequests
from .models.meta import Base


class LoginFailure(Base):
    __tablename__ = 'login_failures'
    key = Column(String(200), primary_key=True)
    count = Column(Integer, nullable=False)
    window_end = Column(Float, nullable=False, index=True)


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
    """Counts in the users database, in a transaction of their own: the
    failed login's own transaction is rolled back with its 401."""

    def __init__(self, engine, clock):
        self.engine = engine
        self.clock = clock
        self.insert = (postgresql.insert if engine.dialect.name == 'postgresql'
                       else sqlite.insert)

    def _run(self, work):
        try:
            with self.engine.begin() as connection:
                return work(connection)
        except SQLAlchemyError as error:
            raise StoreUnavailable() from error

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
    """Counts in the sessions' Redis, shared by every app process."""

    def __init__(self, client, clock, prefix='sessiondemo:'):
        self.client = client
        self.clock = clock
        self.prefix = prefix + 'login-failures:'
        self._increment = client.register_script(INCREMENT)

    def _call(self, work):
        from redis.exceptions import RedisError
        try:
            return work()
        except (RedisError, OSError) as error:
            raise StoreUnavailable() from error

    def get(self, keys):
        now = self.clock()
        values = self._call(lambda: [self.client.get(self.prefix + k) for k in keys])
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
            self._call(lambda: self._increment(keys=[self.prefix + key],
                                               args=[repr(self.clock()), window]))

    def reset(self, key):
        self._call(lambda: self.client.delete(self.prefix + key))


class Throttle:
    def __init__(self, counter, clock, max_failures=5, window=900, max_per_address=100):
        self.counter = counter
        self.clock = clock
        self.max_failures = max_failures
        self.window = window
        self.max_per_address = max_per_address

    def _keys(self, username, address):
        keys = {f'user:{username}': self.max_failures}
        if self.max_per_address and address:
            keys[f'addr:{address}'] = self.max_per_address
        return keys

    def check(self, username, address):
        """Raise 429 when either count is used up for the open window."""
        limits = self._keys(username, address)
        counts = self.counter.get(list(limits))
        now = self.clock()
        blocked = [end for key, (count, end) in counts.items() if count >= limits[key]]
        if blocked:
            retry_after = max(1, math.ceil(max(blocked) - now))
            raise TooManyRequests(Retry_After=retry_after)

    def failed(self, username, address):
        self.counter.increment(list(self._keys(username, address)), self.window)

    def succeeded(self, username):
        self.counter.reset(f'user:{username}')


def make_counter(settings, registry, clock):
    store = cfg.as_choice(settings, 'auth.throttle_store', 'auto',
                          ('auto', 'memory', 'sql', 'redis'))
    if store == 'auto':
        store = {'redis': 'redis', 'memory': 'memory'}.get(
            str(settings.get('session.store', 'memory')).strip(), 'sql')
    if store == 'memory':
        return MemoryCounter(clock)
    if store == 'redis':
        from .sessions.redisstore import make_client
        client = make_client(
            str(settings.get('session.redis.url') or 'redis://127.0.0.1:6379/0').strip(),
            cfg.as_float(settings, 'session.store_timeout', 1, minimum=0.01),
            cfg.as_bool(settings, 'session.redis.cluster', False))
        return RedisCounter(client, clock,
                            prefix=str(settings.get('session.redis.prefix', 'sessiondemo:')))
    return SqlCounter(registry['dbengine'], clock)


def includeme(config):
    settings = config.get_settings()
    from .sessions import read_clock
    clock = read_clock(settings)
    config.registry.login_throttle = Throttle(
        make_counter(settings, config.registry, clock), clock,
        max_failures=cfg.as_int(settings, 'auth.max_failures', 5, minimum=1),
        window=cfg.as_int(settings, 'auth.failure_window', 900, minimum=1),
        max_per_address=cfg.as_int(settings, 'auth.max_failures_per_address', 100, minimum=0),
    )
