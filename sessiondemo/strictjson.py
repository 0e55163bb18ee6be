"""The one JSON reader of request bodies: strict, and in the contract's words.

UTF-8 only, and none of the ``NaN``/``Infinity`` constants Python's reader
takes but JSON does not have; anything else is 400 ``invalid_json``. The
OpenAPI validation (openapi/) reads every JSON body through it, once, and
views take what it read from ``request.validated``.
"""
import json

from .errors import InvalidJSON


def _reject_constant(name):
    raise ValueError(f'{name} is not JSON')


def loads(body):
    """The JSON value in ``body`` (bytes), or InvalidJSON."""
    try:
        return json.loads(body.decode('utf-8'), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError):
        raise InvalidJSON() from None
