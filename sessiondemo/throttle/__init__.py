"""Password throttling: no password check is an unlimited oracle.

Every password check, a login's and ``POST /api/password``'s current
password alike, is counted per username and per client address in fixed
windows: the first attempt opens a window of ``auth.failure_window`` seconds;
once ``auth.max_failures`` failures (``auth.max_failures_per_address`` for an
address, 0 = off) are in it, every attempt, the right password included, gets
429 ``too_many_requests`` with ``Retry-After`` until the window closes. So the
legitimate user is never locked out longer than the window, and a success
resets the username's count (not the address's: one valid account must not
reset a guesser's budget).

The attempt is counted *before* the password is verified, atomically (a
memory lock, a Redis script, a SQL upsert returning the count): an attempt
whose count passes the limit is refused without running bcrypt, so 30
concurrent guesses run at most ``auth.max_failures`` verifications, where a
check-then-count throttle lets every one of them through the check. What is
counted and turns out not to be a failure is given back: a success (to the
address; the username's count is reset), a refused attempt, an error.

Where the counts live (``auth.throttle_store``, default ``auto``): Redis when
the sessions are in Redis, memory beside the memory store (one process
anyway), otherwise SQL in the session store's database; always through the
session store's own connection (connections/), so every app process sees the
same counts and an outage is the same 503.
"""
import math
from contextlib import contextmanager

from ..errors import InvalidCredentials, StoreUnavailable, TooManyRequests
from .counters import make_counter


class Outcome:
    """What the body of ``Throttle.attempt`` says about its password check."""

    right = False

    def succeeded(self):
        self.right = True


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

    @contextmanager
    def attempt(self, username, address):
        """One password check for ``username`` from ``address``, counted
        before it runs: 429 past either limit, and the body does not run.
        The body raises InvalidCredentials for a wrong password (it stays
        counted) or calls ``succeeded()`` on what it was given for a right one;
        any other exception gives the attempt back."""
        limits = self._keys(username, address)
        counts = self.counter.increment(list(limits), self.window)
        blocked = [end for key, (count, end) in counts.items() if count > limits[key]]
        if blocked:
            self._give_back(limits)
            retry_after = max(1, math.ceil(max(blocked) - self.clock()))
            raise TooManyRequests(Retry_After=retry_after)
        outcome = Outcome()
        try:
            yield outcome
        except InvalidCredentials:
            raise                       # a failure: it stays counted
        except BaseException:
            self._give_back(limits)     # no answer is no failure
            raise
        if outcome.right:
            user_key = f'user:{username}'
            self.counter.reset(user_key, give_back=[key for key in limits if key != user_key])

    def _give_back(self, limits):
        try:
            self.counter.decrement(list(limits))
        except StoreUnavailable:
            pass                        # the error on its way out says more


def includeme(config):
    registry = config.registry
    auth = registry.app_settings.auth
    registry.login_throttle = Throttle(
        make_counter(registry.app_settings, registry.connections), registry.app_settings.clock,
        max_failures=auth.max_failures, window=auth.failure_window,
        max_per_address=auth.max_failures_per_address)
