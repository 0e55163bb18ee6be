"""Text a person reads at a glance: "3 minutes ago", "Firefox 128 on Ubuntu",
"in 14 minutes". Pages use it; the JSON API keeps exact values.
"""
from datetime import datetime, timezone
from functools import lru_cache

import ua_parser

UNITS = ((86400, 'day'), (3600, 'hour'), (60, 'minute'), (1, 'second'))


def duration(seconds):
    """``seconds`` in the largest unit that fits: '1 minute', '14 minutes'."""
    seconds = max(0, int(seconds))
    for size, unit in UNITS:
        if seconds >= size or size == 1:
            count = seconds // size
            return f'{count} {unit}{"" if count == 1 else "s"}'


def relative(timestamp, now):
    """'3 minutes ago', 'in 29 minutes', 'just now' (Unix seconds)."""
    delta = timestamp - now
    if abs(delta) < 5:
        return 'just now'
    return f'in {duration(delta)}' if delta > 0 else f'{duration(-delta)} ago'


def utc_text(timestamp):
    """The exact time, for a tooltip: '2026-11-29 07:00:02 UTC'."""
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC')


def _version(part):
    return '.'.join(v for v in (part.major, part.minor) if v) if part else ''


# The parser's rules are compiled on its first use (about half a second, once
# per process); a user agent seen before costs a dictionary lookup.
@lru_cache(maxsize=1024)
def browser_and_system(user_agent):
    """('Firefox 128', 'Ubuntu') from a User-Agent string; 'Unknown browser'
    and 'unknown system' for what the parser's rules do not know."""
    if not user_agent:
        return 'Unknown browser', 'unknown system'
    result = ua_parser.parse(user_agent)
    agent, system = result.user_agent, result.os
    browser = f'{agent.family} {_version(agent)}'.strip() if agent else 'Unknown browser'
    system_name = f'{system.family} {_version(system)}'.strip() if system else 'unknown system'
    return browser, system_name
