"""The store seam: what a session store is, written down once.

Where a session lives is a ``SessionBackend``: the session factory Pyramid
calls (``backend(request)``) and the ``persist`` the session tween calls.
``ServerSideBackend`` (serverside.py) is the backend of every store that keeps
sessions on the server, and does all that the contract asks on top of a
``Store``: signed ids in the cookie, expiry, touches, conflict-safe merges,
size limits. ``CookieBackend`` (cookie.py) keeps the session in the cookie.

A fifth store is one module with a class that implements ``Store`` and a
``make_store(app_settings, connections)``, registered in
``sessions/__init__.py``'s ``SERVER_SIDE_STORES``. Checklist:

1. Keys are the SHA-256 hex of session ids (``record.store_key``): never store
   or log an id.
2. Values are ``Record.to_json()`` text (the ``blob``); keep it byte for byte,
   since ``replace`` compares against it. JSON only, never pickle.
3. ``touch`` and ``replace`` never bring back a record that is gone: a session
   that logged out stays logged out, whatever a slower request does.
4. Every failure to reach the server, a timeout included, raises
   ``StoreUnavailable`` (use ``connections/``: the timeouts and the 503 are
   there already); nothing else escapes.
5. Keep a per-user index for ``sessions_of`` and prune what it names that is gone.
6. Add the store to ``tests/test_store_protocol.py`` (every rule below, against
   a real server) and to the contract suite's ``STORES`` in ``tests/conftest.py``.
"""
from typing import Iterable, Optional, Protocol, Tuple

from .record import Record

# What Store.replace answers.
REPLACED, CONFLICT, MISSING = 'replaced', 'conflict', 'missing'


class Store(Protocol):
    """Sessions kept on a server, by key. Every method raises
    ``StoreUnavailable`` when the server can't be reached within
    ``session.store_timeout``, and nothing else."""

    name: str

    def load(self, key: str) -> Optional[Record]:
        """The live record under ``key``, or None (absent, expired, or not a
        record this app wrote). One round trip; writes nothing."""

    def save(self, key: str, record: Record, blob: str, expires_at: float) -> None:
        """Create or overwrite the record (``blob`` is ``record.to_json()``),
        living until ``expires_at``, and add it to its user's index. One round
        trip (Redis pipelines the index with it)."""

    def replace(self, key: str, record: Record, blob: str, expires_at: float,
                expected: str) -> str:
        """Compare-and-set, atomically: write only if the stored blob is still
        ``expected`` (the text the caller read). REPLACED when written,
        CONFLICT when the record changed since (nothing written), MISSING when
        it is gone (and it stays gone). One round trip when it succeeds."""

    def touch(self, key: str, record: Record, expires_at: float) -> None:
        """Slide the idle expiry: set ``touched`` (from ``record``) and
        ``expires_at`` only, never the data (a concurrent save may be newer),
        and only if the record still exists. One round trip."""

    def delete(self, key: str) -> None:
        """Remove the record; no error if it is gone. One round trip."""

    def sessions_of(self, user_id) -> Iterable[Tuple[str, Record]]:
        """``(key, record)`` for the user's live sessions, from the per-user
        index (entries whose session is gone are pruned on the way)."""

    def purge_expired(self) -> int:
        """Delete expired records that the server does not expire by itself;
        how many (0 for a store that expires its own)."""

    def ping(self) -> None:
        """Reach the server once (``/healthz``)."""

    def count(self) -> int:
        """Records held, live or not yet purged (tests and benchmarks only)."""


class SessionBackend(Protocol):
    """Where a session lives: ``ServerSideBackend`` or ``CookieBackend``."""

    name: str

    def __call__(self, request):
        """The request's ``Session`` (Pyramid's session factory); an empty one
        for a missing, tampered or expired cookie. StoreUnavailable propagates."""

    def persist(self, request, response, session) -> None:
        """Save what the request changed (or touch, or delete) and set or
        expire the cookie. SessionTooLarge (413) leaves everything as it was."""

    def session_id(self, request) -> Optional[str]:
        """The session id a validly signed cookie names, read from the cookie
        alone (no store round trip), or None: CSRF tokens are bound to it."""

    def ping(self) -> None:
        """StoreUnavailable when the store can't be reached."""
