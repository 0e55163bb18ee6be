"""In-process store: fast, gone when the process stops, bounded in size.

The material's warnings about memory stores ("wiped when the server restarts",
"memory leaks as more and more memory is used") are answered here only in part:
the size is bounded (least recently used sessions are evicted past
``session.memory.max_sessions``) and expired sessions are swept, but a restart
still logs everyone out and each process has its own sessions.

Records are kept as their JSON text, as a remote store would keep them, so a
request that mutates a nested value without saving changes nothing here.
"""
import threading
import time
from collections import OrderedDict

from .interfaces import CONFLICT, MISSING, REPLACED
from .record import Record


class MemoryStore:
    name = 'memory'

    def __init__(self, max_sessions=100000, clock=time.time, sweep_every=1000):
        self.max_sessions = max_sessions
        self.clock = clock
        self._entries = OrderedDict()     # key -> [blob, expires_at, user_id], oldest use first
        self._by_user = {}                # user_id -> {key}: the per-user index
        self._lock = threading.Lock()     # waitress serves requests from threads
        self._writes = 0
        self._sweep_every = sweep_every

    def count(self):
        """Records held, live or not yet swept (benchmarks and tests read it)."""
        return len(self._entries)

    def load(self, key):
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[1] <= self.clock():
                self._remove(key)
                return None
            self._entries.move_to_end(key)
            blob = entry[0]
        return Record.from_json(blob)

    def save(self, key, record, blob, expires_at):
        with self._lock:
            self._put(key, blob, expires_at, record.user_id)

    def replace(self, key, record, blob, expires_at, expected):
        """Compare-and-set: write only over the version the caller read."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[1] <= self.clock():
                return MISSING
            if entry[0] != expected:
                return CONFLICT
            self._put(key, blob, expires_at, record.user_id)
            return REPLACED

    def touch(self, key, record, expires_at):
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[1] > self.clock():     # never revive the expired
                # Only the touched time and the expiry: the data in the store may
                # be newer than what this (read-only) request loaded.
                stored = Record.from_json(entry[0])
                stored.touched = record.touched
                entry[:2] = [stored.to_json(), expires_at]

    def _put(self, key, blob, expires_at, user_id):
        self._remove(key)
        self._entries[key] = [blob, expires_at, user_id]
        if user_id is not None:
            self._by_user.setdefault(user_id, set()).add(key)
        self._writes += 1
        if self._writes % self._sweep_every == 0:
            self._sweep(self.clock())
        while len(self._entries) > self.max_sessions:
            self._remove(next(iter(self._entries)))

    def delete(self, key):
        with self._lock:
            self._remove(key)

    def sessions_of(self, user_id):
        with self._lock:
            now = self.clock()
            blobs = [(key, self._entries[key][0]) for key in self._by_user.get(user_id, ())
                     if self._entries[key][1] > now]
        return [(key, Record.from_json(blob)) for key, blob in blobs]

    def _remove(self, key):
        entry = self._entries.pop(key, None)
        if entry is not None and entry[2] is not None:
            keys = self._by_user.get(entry[2])
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_user[entry[2]]

    def _sweep(self, now):
        expired = [key for key, entry in self._entries.items() if entry[1] <= now]
        for key in expired:
            self._remove(key)
        return len(expired)

    def purge_expired(self):
        with self._lock:
            return self._sweep(self.clock())

    def ping(self):
        return True


def make_store(app_settings, connections):
    return MemoryStore(max_sessions=app_settings.session.memory_max_sessions,
                       clock=app_settings.clock)
