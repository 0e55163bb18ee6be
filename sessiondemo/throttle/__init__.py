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
the sessions are in Redis, memory beside the memory store (one process
anyway), otherwise SQL in the session store's database; always through the
session store's own connection (connections/), so every app process sees the
same counts and an outage is the same 503.
"""
import math

from ..errors import TooManyRequests
from .counters import make_counter


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


def includeme(config):
    registry = config.registry
    auth = registry.app_settings.auth
    registry.login_throttle = Throttle(
        make_counter(registry.app_settings, registry.connections), registry.app_settings.clock,
        max_failures=auth.max_failures, window=auth.failure_window,
        max_per_address=auth.max_failures_per_address)
