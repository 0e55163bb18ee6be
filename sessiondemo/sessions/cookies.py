"""Writing the session cookie, with the flags of ``session.cookie_*``."""
from webob.cookies import make_cookie


class SessionCookie:
    def __init__(self, settings):
        self.settings = settings        # config.CookieSettings
        self.name = settings.name
        self._flags = dict(path=settings.path, secure=settings.secure,
                           httponly=settings.httponly, samesite=settings.samesite)

    def set(self, response, value, max_age):
        response.set_cookie(self.name, value, max_age=max(0, int(max_age)), **self._flags)

    def delete(self, response):
        response.set_cookie(self.name, '', max_age=0, **self._flags)

    def header_length(self, value, max_age):
        """Bytes of the Set-Cookie value a browser must keep (its 4096-byte
        limit), serialized exactly as ``set`` will send it, Expires included."""
        return len(make_cookie(self.name, value, max_age=max(0, int(max_age)), **self._flags))
