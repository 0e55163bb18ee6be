"""URL-safe base64 without padding: what ids, nonces, signatures and cookie
payloads are written in (RFC 4648 section 5, as ``secrets.token_urlsafe``)."""
import base64
import binascii

_URLSAFE = bytes.maketrans(b'+/', b'-_')


def b64encode(data):
    # base64.urlsafe_b64encode, without its two Python-level calls.
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b'=').decode('ascii')


def b64decode(text):
    """Strict URL-safe base64 without padding; ValueError on anything else.

    Strict means: ``text`` is exactly what ``b64encode`` makes of some bytes.
    Python's decoder skips characters outside the alphabet and ignores the
    unused low bits of the last character, so several texts would open to
    the same bytes; re-encoding (a microsecond for a cookie) refuses them all:
    a foreign character, padding, whitespace, a last character with stray bits.
    """
    if not isinstance(text, str) or not text.isascii():
        raise ValueError('not base64')
    try:
        data = base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError('not base64') from None
    if b64encode(data) != text:
        raise ValueError('not canonical base64')
    return data
