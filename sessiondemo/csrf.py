"""CSRF tokens the server issued, bound to the client that asked for them.

A token is the HMAC, under the app's secrets (the first signs, every one
verifies: the keyring rotates as the session's does), of what identifies the
client:

- a client with a session: its session id, read from its signed session cookie
  (no store round trip). Nobody else knows it, so nobody else can hold a token
  for it; and a login makes a new id, so a token from before the login stops
  working;
- a client without one (before login): a random nonce in a cookie of its own
  (``csrf``; ``__Host-csrf`` when the session cookie is a ``__Host-`` one). It
  is replaced at every login and logout, so the tokens bound to it end there.

So a token and cookie pair that a client made up is refused (it would need the
secret), and so is a pair minted for one client and used by another. What no
token scheme can stop for an anonymous client, an attacker who can set cookies
in the victim's browser (a sibling subdomain, plain http) planting a nonce of
his own, the ``__Host-`` prefix that production uses stops in the browser.

CSRF stays independent of the session store and anonymous visitors get no
session: the nonce is a cookie, not a session. Pyramid's ``csrf_view`` deriver
checks every unsafe request (header ``X-CSRF-Token`` or form field
``csrf_token``) through this policy; a failure is 403 ``bad_csrf`` (errors.py).
"""

from pyramid.csrf import new_csrf_token
from pyramid.interfaces import ICSRFStoragePolicy
from zope.interface import implementer

from . import entropy
from .headers import NO_STORE
from .sessions.cookies import SetCookie, read_cookie
from .sessions.signing import Signer

NONCE_KEY = 'sessiondemo.csrf_nonce'      # this request's new nonce, in the environ


@implementer(ICSRFStoragePolicy)
class BoundCSRFPolicy:
    def __init__(self, secrets_, backend, secure=False, cookie_name='csrf'):
        self.signer = Signer(secrets_, 'csrf token')
        self.backend = backend
        self.cookie_name = cookie_name
        self.secure = secure
        self.cookie = SetCookie(cookie_name, secure=secure)    # HttpOnly, SameSite=Lax

    def _binding(self, request, create=False):
        sid = self.backend.session_id(request)
        if sid is not None:
            return 's:' + sid
        nonce = request.environ.get(NONCE_KEY) or read_cookie(request, self.cookie_name)
        if not nonce and create:
            nonce = self._set_nonce(request)
        return 'n:' + nonce if nonce else None

    def _set_nonce(self, request):
        nonce = entropy.token_urlsafe(16)
        request.environ[NONCE_KEY] = nonce

        def set_cookie(request, response):
            response.headerlist.append(('Set-Cookie', self.cookie(nonce)))
        request.add_response_callback(set_cookie)
        return nonce

    # ICSRFStoragePolicy
    def new_csrf_token(self, request):
        """A new nonce (every token bound to the old one stops working), and the
        token this client holds now."""
        self._set_nonce(request)
        return self.get_csrf_token(request)

    def get_csrf_token(self, request):
        request.environ[NO_STORE] = True            # the response holds a token
        return self.signer.signature(self._binding(request, create=True))

    def check_csrf_token(self, request, supplied_token):
        binding = self._binding(request)
        return binding is not None and self.signer.verify(binding, supplied_token)


def rotate(request):
    """At login and logout: the pre-login nonce is replaced."""
    new_csrf_token(request)


def includeme(config):
    # After .sessions: tokens are bound to the session cookie's id.
    settings = config.registry.app_settings.session
    prefix = '__Host-' if settings.cookie.name.startswith('__Host-') else ''
    config.set_csrf_storage_policy(BoundCSRFPolicy(
        settings.secrets, config.registry.session_backend, secure=settings.cookie.secure,
        cookie_name=prefix + 'csrf'))
    config.set_default_csrf_options(require_csrf=True, token='csrf_token',
                                    header='X-CSRF-Token')
