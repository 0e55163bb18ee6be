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

from .core import Record


class MemoryStore:
    name = 'memory'

    def __init__(self, max_sessions=100000, clock=time.time, sweep_every=1000):
        self.max_sessions = max_sessions
        self.clock = clock
        self._entries = OrderedDict()     # key -> [blob, expires_at], oldest use first
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
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            blob = entry[0]
        return Record.from_json(blob)

    def save(self, key, record, blob, expires_at):
        with self._lock:
            self._entries[key] = [blob, expires_at]
            self._entries.move_to_end(key)
            self._writes += 1
            if self._writes % self._sweep_every == 0:
                self._sweep(self.clock())
            while len(self._entries) > self.max_sessions:
                self._entries.popitem(last=False)

    def touch(self, key, record, expires_at):
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                entry[:] = [record.to_json(), expires_at]

    def delete(self, key):
        with self._lock:
            self._entries.pop(key, None)

    def _sweep(self, now):
        expired = [key for key, (_, expires_at) in self._entries.items() if expires_at <= now]
        for key in expired:
            del self._entries[key]
        return len(expired)

    def purge_expired(self):
        with self._lock:
            return self._sweep(self.clock())

    def ping(self):
        return True


def make_store(settings, clock):
    from ..config import as_int
    return MemoryStore(max_sessions=as_int(settings, 'session.memory.max_sessions', 100000,
                                           minimum=1), clock=clock)
