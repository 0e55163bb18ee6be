"""The views: the JSON API (api.py), a user's sessions (sessions.py), the pages (pages.py)."""
from datetime import datetime, timezone


def iso(timestamp):
    """Unix seconds as ISO 8601 with a UTC offset, as the contract writes times."""
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat()
