"""Conflict-safe writes of one session: what every request changed, none lost.

A request writes only what it changed (``changes_between`` the record it
read and its session now), onto the record as it is in the store now, by a
compare-and-set against that record. Two requests of one session that change
different keys both keep their change (a plain overwrite loses one:
connect-redis #333/#346/#347), and a record that is gone, because the session
logged out or was revoked while the request ran, stays gone: no write brings
it back (connect-redis #328).

In one process, the writers of a session never race each other's
compare-and-set (each lost race costs two more round trips: the failed write
and a second read). They queue; whoever holds the session's turn takes the
queue and writes every change in it, in order, as one compare-and-set onto
the last record this process stored; the others find their change written
when their turn comes. So eight requests writing one session at once cost one
or two writes, not eight in a row each waiting for the round trip before it.
Writers in other processes are met by the compare-and-set, retried on a fresh
read until ``merge_timeout`` (the store timeout) has passed.
"""
import copy
import threading
import time

from ..errors import SessionTooLarge, StoreUnavailable
from .interfaces import CONFLICT, MISSING, REPLACED
from .record import checked_blob

# Turns are taken per stripe of keys (bounded memory; two sessions in one
# stripe wait for each other's round trip, never write each other's changes).
STRIPES = 64


class Change:
    """One request's write, and once it is done, how it went."""
    __slots__ = ('key', 'base', 'changed', 'removed', 'now', 'user_agent', 'ip',
                 'done', 'outcome', 'error')

    def __init__(self, key, base, changed, removed, now, user_agent, ip):
        self.key, self.base = key, base
        self.changed, self.removed = changed, removed
        self.now, self.user_agent, self.ip = now, user_agent, ip
        self.done = False
        self.outcome = self.error = None

    def applied_to(self, record):
        return record.merged(self.changed, self.removed, self.now, self.user_agent, self.ip)


class MergingWriter:
    """``write(change)`` over a ``Store``: REPLACED, or MISSING (the session is gone)."""

    def __init__(self, store, timeouts, max_bytes=65536, merge_timeout=1.0):
        self.store = store
        self.timeouts = timeouts
        self.max_bytes = max_bytes
        self.merge_timeout = merge_timeout
        self._turns = [threading.Lock() for _ in range(STRIPES)]
        self._queues = [[] for _ in range(STRIPES)]
        self._queue_lock = threading.Lock()       # held for list operations only
        self._written = [None] * STRIPES          # stripe -> (key, record) last stored

    def write(self, change):
        stripe = hash(change.key) % STRIPES
        with self._queue_lock:
            self._queues[stripe].append(change)
        with self._turns[stripe]:
            if not change.done:
                with self._queue_lock:
                    queue = self._queues[stripe]
                    batch = [queued for queued in queue if queued.key == change.key]
                    queue[:] = [queued for queued in queue if queued.key != change.key]
                self._write_batch(stripe, batch)
        if change.error is not None:
            # A copy per request: one exception object raised in several
            # threads would collect all their tracebacks.
            raise copy.copy(change.error)
        return change.outcome

    def _write_batch(self, stripe, batch):
        try:
            outcome = self._compare_and_set(stripe, batch)
            for change in batch:
                if change.error is None:
                    change.outcome = outcome
        except (StoreUnavailable, SessionTooLarge) as error:
            for change in batch:
                change.error = change.error or error
        except BaseException:
            for change in batch:
                change.error = change.error or StoreUnavailable()
            raise
        finally:
            for change in batch:
                change.done = True

    def _compare_and_set(self, stripe, batch):
        key = batch[0].key
        # The newest record known: one of those the writers read, or the one
        # this process stored last (each write stamps its own time, so the
        # latest touched is the latest version; a wrong guess costs a conflict).
        candidates = [change.base for change in batch]
        written = self._written[stripe]
        if written is not None and written[0] == key:
            candidates.insert(0, written[1])
        base = max(candidates, key=lambda record: record.touched)
        deadline = time.monotonic() + self.merge_timeout
        while True:
            record, blob = self._fold(base, batch)
            if record is None:
                return None             # every change refused: each has its error
            outcome = self.store.replace(key, record, blob, record.expires_at(self.timeouts),
                                         expected=base.source)
            if outcome == REPLACED:
                record.source = blob
                self._written[stripe] = (key, record)
            elif outcome == MISSING and written is not None and written[0] == key:
                self._written[stripe] = None    # no logged-out session's data kept
            if outcome != CONFLICT:
                return outcome
            if time.monotonic() > deadline:
                # Other processes won every round for a whole store timeout.
                raise StoreUnavailable('The session is changing too fast; try again.')
            base = self.store.load(key)
            if base is None:
                return MISSING

    def _fold(self, base, batch):
        """(record, blob): every change of the batch on ``base``, in order. A
        change that would make the session too large is refused alone (its
        request gets the 413 it would have had writing by itself)."""
        record = base
        for change in batch:
            change.error = None         # a refusal on an earlier version no longer holds
            record = change.applied_to(record)
        try:
            return record, checked_blob(record, self.max_bytes)
        except SessionTooLarge:
            if len(batch) == 1:
                raise
        record, blob = base, None
        for change in batch:
            try:
                candidate = change.applied_to(record)
                blob = checked_blob(candidate, self.max_bytes)
                record = candidate
            except SessionTooLarge as error:
                change.error = error
        return (record, blob) if blob is not None else (None, None)
