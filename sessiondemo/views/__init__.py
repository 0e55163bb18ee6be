"""The views: the JSON API (api.py), a user's sessions (sessions.py), the pages (pages.py)."""
from datetime import datetime, timezone
from functools import lru_cache


@lru_cache(maxsize=4096)
def iso(timestamp):
    """Unix seconds as ISO 8601 with a UTC offset, as the contract writes times.
    Cached: a session's times are asked for on every read and change at most
    once per touch interval (~0.2 µs a hit against ~2.3 to format)."""
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat()
