"""Request ids: one per request, echoed in ``X-Request-ID`` and on every log line.

A client's (or a proxy's) ``X-Request-ID`` is kept when it is well formed:
1 to 128 characters of ``A-Z a-z 0-9 . _ : -``, nothing a log line or a header
could be bent by. Otherwise a new one is made (32 hex digits from the OS's
random source: cheaper than a uuid4 object, as unique).

observe.py's tween gives each request its id. The id lives in a
thread-local for the request's duration (waitress serves a
request on one thread), and a log record factory installed at import copies it
into every ``LogRecord`` as ``request_id`` (``-`` outside a request), so any
logger's format can name ``%(request_id)s``. A record factory rather than a
``logging.Filter`` because the ini files' logging configuration
(``logging.config.fileConfig``) cannot attach filters, and so that loggers
nobody configured (SQLAlchemy's, waitress's) carry it too.
"""
import logging
import re
import threading

from . import entropy

HEADER = 'X-Request-ID'
WELL_FORMED = re.compile(r'[A-Za-z0-9._:-]{1,128}').fullmatch
NO_REQUEST = '-'

_local = threading.local()


def current():
    """This thread's request id, or ``-`` outside a request."""
    return getattr(_local, 'id', NO_REQUEST)


def request_id_for(environ):
    supplied = environ.get('HTTP_X_REQUEST_ID')
    if supplied and WELL_FORMED(supplied):
        return supplied
    return entropy.token_hex(16)


def _install_record_factory():
    previous = logging.getLogRecordFactory()
    if getattr(previous, 'adds_request_id', False):
        return                          # imported twice (reloads): once is enough

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        record.request_id = getattr(_local, 'id', NO_REQUEST)
        return record
    factory.adds_request_id = True
    logging.setLogRecordFactory(factory)


_install_record_factory()


def bind(request_id):
    """Make ``request_id`` this thread's; returns the one it replaces (for a
    response callback, which runs after observe.py's tween has left)."""
    previous = getattr(_local, 'id', NO_REQUEST)
    _local.id = request_id
    return previous
