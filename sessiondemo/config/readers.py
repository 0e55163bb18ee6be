"""Typed readers of one setting each: a missing or bad value is a
``SettingsError`` whose message names the key."""
import time

from pyramid.util import DottedNameResolver


class SettingsError(ValueError):
    """A setting is missing or has a bad value; the message names the key."""


def require(settings, key):
    value = settings.get(key)
    if value is None or str(value).strip() == '':
        raise SettingsError(f'{key}: required setting is missing')
    return str(value).strip()


def as_text(settings, key, default):
    return str(settings.get(key) or default).strip() or default


def _number(settings, key, default, minimum, maximum, kind, noun):
    raw = settings.get(key, default)
    try:
        value = kind(str(raw).strip())
    except ValueError:
        raise SettingsError(f'{key}: expected {noun}, got {raw!r}') from None
    if minimum is not None and value < minimum:
        raise SettingsError(f'{key}: must be at least {minimum}, got {value}')
    if maximum is not None and value > maximum:
        raise SettingsError(f'{key}: must be at most {maximum}, got {value}')
    return value


def as_int(settings, key, default, minimum=None, maximum=None):
    return _number(settings, key, default, minimum, maximum, int, 'an integer')


def as_float(settings, key, default, minimum=None, maximum=None):
    return _number(settings, key, default, minimum, maximum, float, 'a number')


_TRUE = {'true', 'yes', 'on', '1'}
_FALSE = {'false', 'no', 'off', '0'}


def as_bool(settings, key, default):
    raw = settings.get(key, default)
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SettingsError(f'{key}: expected true or false, got {raw!r}')


def as_choice(settings, key, default, choices):
    value = str(settings.get(key, default)).strip()
    if value not in choices:
        raise SettingsError(
            f'{key}: unknown value {value!r} (choose one of {", ".join(choices)})')
    return value


def clock(settings):
    # Test seam: a callable returning Unix seconds, passed in the settings.
    return DottedNameResolver().maybe_resolve(settings.get('sessiondemo.clock') or time.time)
