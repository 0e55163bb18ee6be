"""Password hashing: bcrypt over a SHA-256 pre-hash, so every character counts.

bcrypt reads at most 72 bytes (bcrypt 5 raises ValueError past them, older
versions silently ignore the rest); the contract allows 1024 characters. As in
passlib's ``bcrypt_sha256``, the password is first reduced with HMAC-SHA256 and
base64 (44 ASCII bytes, no NUL), then hashed with bcrypt at ``auth.bcrypt_rounds``.
"""
import base64
import hashlib
import hmac

import bcrypt

PREFIX = 'bcrypt-sha256$'


def _prehash(password):
    digest = hmac.new(b'sessiondemo bcrypt-sha256', password.encode('utf-8'),
                      hashlib.sha256).digest()
    return base64.b64encode(digest)


class PasswordHasher:
    def __init__(self, rounds=12):
        self.rounds = rounds
        # Verified against when the username is unknown, so that an unknown user
        # and a wrong password take about the same time.
        self._dummy = self.hash('not the password of anybody')

    def hash(self, password):
        hashed = bcrypt.hashpw(_prehash(password), bcrypt.gensalt(self.rounds))
        return PREFIX + hashed.decode('ascii')

    def verify(self, password, stored):
        if stored is None:
            self.verify(password, self._dummy)
            return False
        if not stored.startswith(PREFIX):
            return False
        return bcrypt.checkpw(_prehash(password), stored[len(PREFIX):].encode('ascii'))


def includeme(config):
    config.registry.password_hasher = PasswordHasher(
        config.registry.app_settings.auth.bcrypt_rounds)
