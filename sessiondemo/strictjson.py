"""The one JSON reader of request bodies: strict, and in the contract's words.

- Not JSON at all (not UTF-8, a syntax error, the ``NaN``/``Infinity``
  constants Python's reader takes but JSON does not have), or nested deeper
  than ``MAX_DEPTH`` (``[[[...]]]``: each level costs every later reader, the
  validator, the store's serializer and the renderer, a level of recursion):
  400 ``invalid_json``.
- JSON that the app cannot hold: a string with a lone surrogate escape
  (``"\\udc80"``, which no UTF-8 encoder takes: bcrypt's pre-hash, a store's
  serializer), a number that is not finite once read (``1e999``), an integer
  past Python's digit limit: 400 ``invalid_input``.

The checks cost nothing a normal body notices: a document with at most
``MAX_DEPTH`` brackets cannot be deeper than that, and one without a ``\\u``
escape cannot hold a surrogate (UTF-8 itself cannot encode one); only a body
that fails those counts is walked once after parsing. Floats go through a
finiteness check as they are read.

The OpenAPI validation (openapi/) reads every JSON body through it, once, and
views take what it read from ``request.validated``.
"""
import json
import math

from .errors import InvalidInput, InvalidJSON

MAX_DEPTH = 32      # levels of arrays and objects, the outermost one included


def _reject_constant(name):
    raise InvalidJSON(f'{name} is not JSON.')


def _finite_float(text):
    value = float(text)
    if math.isinf(value):               # NaN cannot come from a number literal
        raise InvalidInput('A number in the request body is not finite.')
    return value


_decoder = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def _walk(value, surrogates):
    """Raise when ``value`` is nested deeper than MAX_DEPTH or (``surrogates``)
    holds a string, key or value, that is not valid Unicode."""
    stack = [(value, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidJSON(f'The request body is nested deeper than {MAX_DEPTH} levels.')
        if isinstance(value, dict):
            items = value.values()
            if surrogates:
                _check_strings(value.keys())
        else:
            items = value
        if surrogates:
            _check_strings(item for item in items if isinstance(item, str))
        stack.extend((item, depth + 1) for item in items if isinstance(item, (dict, list)))


def _check_strings(strings):
    for text in strings:
        try:
            text.encode('utf-8')
        except UnicodeEncodeError:
            raise InvalidInput('A string in the request body holds a lone surrogate escape.') \
                from None


def loads(body):
    """The JSON value in ``body`` (bytes), or InvalidJSON / InvalidInput."""
    try:
        text = body.decode('utf-8')
        value = _decoder.decode(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidJSON() from None
    except RecursionError:
        # Deeper than the interpreter goes: deeper than MAX_DEPTH by far.
        raise InvalidJSON(f'The request body is nested deeper than {MAX_DEPTH} levels.') \
            from None
    except ValueError:
        # Valid JSON all the same: an integer longer than Python converts
        # (sys.get_int_max_str_digits(), 4300 digits).
        raise InvalidInput('A number in the request body is too large.') from None
    deep = text.count('[') + text.count('{') > MAX_DEPTH
    surrogates = '\\u' in text
    if (deep or surrogates) and isinstance(value, (dict, list)):
        _walk(value, surrogates)
    elif surrogates and isinstance(value, str):
        _check_strings([value])
    return value
