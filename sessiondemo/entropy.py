"""Random bytes from the OS's CSPRNG, drawn a block at a time.

Every session id, CSRF nonce, cookie nonce (AES-GCM) and request id comes
from here. They are ``os.urandom``'s bytes, as ``secrets`` would give them,
but one ``os.urandom`` call per ``BLOCK`` bytes instead of one per token:
``os.urandom`` releases the GIL around its ``getrandom()`` system call, and
under a threaded server (waitress: 4 threads) every release is a chance to
lose the interpreter to another thread and wait to get it back, a context
switch that costs far more than the call (measured: drawing the request id
alone with ``os.urandom`` cost ~10 % of a read's throughput under wrk).

Each byte is handed out once: each thread draws from a block of its own (no
lock, no sharing between threads), and the offset only moves forward. A
forked child never uses a block its parent drew (``os.register_at_fork``
bumps a generation that every block is checked against), so two worker
processes of a pre-forking server never hand out the same id or nonce.
"""
import os
import threading

from .urlsafe import b64encode

BLOCK = 4096

_local = threading.local()
_generation = 0


def _forked():
    global _generation
    _generation += 1


os.register_at_fork(after_in_child=_forked)


def token_bytes(n):
    """``n`` random bytes, as ``secrets.token_bytes(n)``."""
    local = _local
    offset = getattr(local, 'offset', BLOCK)
    if offset + n > BLOCK or local.__dict__.get('generation') != _generation:
        if n > BLOCK:
            return os.urandom(n)
        local.block, local.generation = os.urandom(BLOCK), _generation
        offset = 0
    local.offset = offset + n
    return local.block[offset:offset + n]


def token_hex(n):
    """As ``secrets.token_hex(n)``: ``2n`` hex digits."""
    return token_bytes(n).hex()


def token_urlsafe(n):
    """As ``secrets.token_urlsafe(n)``: URL-safe base64 of ``n`` bytes, unpadded."""
    return b64encode(token_bytes(n))
