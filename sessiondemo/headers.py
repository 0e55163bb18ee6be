"""Response headers that keep what a session shows out of caches and frames.

- ``Cache-Control: no-store`` on every response that depends on the session
  (it was loaded), holds a CSRF token (one was asked for), or sets a cookie: a
  shared cache or the browser's back button must not hand one client's answer
  to the next person at the keyboard.
- Pages refuse to be framed (``X-Frame-Options: DENY`` and CSP
  ``frame-ancestors 'none'``: no clickjacking of "log out everywhere else"),
  load only this site's stylesheet, post forms only here, and send no
  Referer elsewhere; every response is ``nosniff``.

A tween above the exception views, so error responses get them too. The CSRF
nonce cookie is set by a response callback, after this tween: the policy marks
the request (``NO_STORE``) when it hands out a token, which covers it.
"""
from pyramid.tweens import EXCVIEW

NO_STORE = 'sessiondemo.no_store'
PAGE_HEADERS = {
    'X-Frame-Options': 'DENY',
    'Content-Security-Policy': ("default-src 'none'; style-src 'self'; img-src 'self'; "
                                "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
    'Referrer-Policy': 'same-origin',
}


def headers_tween_factory(handler, registry):
    def headers_tween(request):
        response = handler(request)
        # The header list itself, not WebOb's mapping over it: each of the
        # mapping's reads and writes lower-cases every header (~6 µs a request).
        headerlist = response.headerlist
        if ('session' in request.__dict__ or NO_STORE in request.environ
                or any(name == 'Set-Cookie' for name, _ in headerlist)):
            if any(name.lower() == 'cache-control' for name, _ in headerlist):
                response.headers['Cache-Control'] = 'no-store'     # replaces the other
            else:
                headerlist.append(('Cache-Control', 'no-store'))
        headerlist.append(('X-Content-Type-Options', 'nosniff'))
        # Content-Type read from the list too: WebOb's content_type parses it.
        if any(name == 'Content-Type' and value.startswith('text/html')
               for name, value in headerlist):
            response.headers.update(PAGE_HEADERS)
        return response
    return headers_tween


def includeme(config):
    config.add_tween('sessiondemo.headers.headers_tween_factory', over=EXCVIEW)
