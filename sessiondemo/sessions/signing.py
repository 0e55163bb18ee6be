"""Signing and encrypting cookie values under a ring of secrets.

``session.secrets`` holds one or more keys: the first signs (or encrypts), every
one verifies (or decrypts), so a secret is rotated by putting the new one first
and removing the old one once its cookies have expired. Callers learn whether a
value was made with an older key so that they can re-issue it.

Our own small code rather than WebOb's ``SignedSerializer`` (one secret, a
SHA-512 signature twice as long, no way to tell which key verified) or an extra
dependency: HMAC-SHA256 and AES-GCM come from the standard library and
``cryptography``.
"""
import hashlib
import hmac

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .. import entropy
from ..urlsafe import b64decode, b64encode


def derive_key(secret, purpose):
    """A 256-bit key per purpose, so one secret never serves two algorithms."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b'sessiondemo ' + purpose.encode('ascii')).derive(secret.encode('utf-8'))


class Signer:
    """``value.signature`` with HMAC-SHA256 under the first of several keys."""

    def __init__(self, secrets, purpose):
        # HMAC objects keyed once: each signature copies one instead of
        # hashing the key again (a third of the cost of a check).
        self._macs = [hmac.new(derive_key(s, 'sign ' + purpose), digestmod=hashlib.sha256)
                      for s in secrets]

    @staticmethod
    def _mac(keyed, value):
        mac = keyed.copy()
        mac.update(value.encode('ascii'))
        return b64encode(mac.digest())

    def signature(self, value):
        """The signature of ASCII ``value`` under the current key."""
        return self._mac(self._macs[0], value)

    def verify(self, value, signature):
        """Whether ``signature`` is ``value``'s under any of the keys."""
        return isinstance(signature, str) and signature.isascii() and any(
            hmac.compare_digest(signature, self._mac(keyed, value)) for keyed in self._macs)

    def sign(self, value):
        """``value`` must be ASCII without dots (an id or base64 text)."""
        return f'{value}.{self._mac(self._macs[0], value)}'

    def unsign(self, token):
        """(value, signed_with_current_key) or None for anything not ours."""
        if not isinstance(token, str) or not token.isascii() or token.count('.') != 1:
            return None
        value, signature = token.split('.')
        for index, keyed in enumerate(self._macs):
            if hmac.compare_digest(signature, self._mac(keyed, value)):
                return value, index == 0
        return None


class Encrypter:
    """AES-256-GCM (confidential and authenticated) under the first of several keys.

    A value is ``base64(version, nonce, ciphertext and tag)``. The associated
    data, authenticated but not sent, is the version byte, the purpose and the
    ``context`` (for a cookie, its name): a value made in another format, for
    another purpose or under another cookie name never opens, even under the
    same secrets (a session cookie replayed as another cookie of the app, or
    a format changed in a later release and read by this one).
    """

    VERSION = 1
    NONCE_BYTES = 12

    def __init__(self, secrets, purpose, context=''):
        self._version = bytes([self.VERSION])
        self._aad = b'\0'.join([self._version, purpose.encode('ascii'), context.encode('utf-8')])
        self._ciphers = [AESGCM(derive_key(s, 'encrypt ' + purpose)) for s in secrets]

    def encrypt(self, plaintext):
        nonce = entropy.token_bytes(self.NONCE_BYTES)
        return b64encode(self._version + nonce
                         + self._ciphers[0].encrypt(nonce, plaintext, self._aad))

    def decrypt(self, token):
        """(plaintext, encrypted_with_current_key) or None for anything not ours."""
        try:
            raw = b64decode(token)
        except ValueError:
            return None
        if raw[:1] != self._version:
            return None
        nonce, ciphertext = raw[1:1 + self.NONCE_BYTES], raw[1 + self.NONCE_BYTES:]
        if len(ciphertext) < 16:
            return None
        for index, cipher in enumerate(self._ciphers):
            try:
                return cipher.decrypt(nonce, ciphertext, self._aad), index == 0
            except InvalidTag:
                continue
        return None
