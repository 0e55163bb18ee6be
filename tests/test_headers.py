"""Cache and frame headers (http-api.md, "The session cookie"), on every store."""
import pytest

from .helpers import PASSWORD


def no_store(response):
    return response.headers.get('Cache-Control') == 'no-store'


def test_what_depends_on_the_session_or_sets_a_cookie_is_not_stored(testapp):
    assert no_store(testapp.get('/api/csrf'))                       # a token, a cookie
    assert no_store(testapp.register('frodo'))
    assert no_store(testapp.get('/api/me'))
    assert no_store(testapp.get('/api/sessions'))
    assert no_store(testapp.get('/api/session/data'))
    assert no_store(testapp.login('frodo', PASSWORD))
    assert no_store(testapp.get('/'))
    assert no_store(testapp.get('/sessions'))
    assert no_store(testapp.logout())
    assert no_store(testapp.get('/login'))                          # a form with a token
    assert no_store(testapp.get('/api/me', expect_errors=True))     # a 401


def test_what_depends_on_nothing_may_be_cached(testapp):
    testapp.register('frodo')
    assert not no_store(testapp.get('/api/openapi.json'))
    assert not no_store(testapp.get('/static/style.css'))


@pytest.mark.parametrize('path', ['/login', '/register', '/', '/sessions', '/nope'])
def test_pages_refuse_to_be_framed(testapp, path):
    testapp.register('frodo')
    response = testapp.get(path, expect_errors=True)
    assert response.content_type == 'text/html'
    assert response.headers['X-Frame-Options'] == 'DENY'
    csp = response.headers['Content-Security-Policy']
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert response.headers['Referrer-Policy'] == 'same-origin'
    assert response.headers['X-Content-Type-Options'] == 'nosniff'


def test_json_is_never_sniffed(testapp):
    assert testapp.get('/healthz').headers['X-Content-Type-Options'] == 'nosniff'
    assert 'X-Frame-Options' not in testapp.get('/healthz').headers


@pytest.mark.parametrize('name', ['Cache-Control', 'cache-control'])
def test_no_store_replaces_a_cache_control_a_view_set(name):
    """A response that sets a cookie is never cached, whatever its view
    allowed: one Cache-Control, ``no-store``, whatever the case of the other."""
    from pyramid.request import Request
    from pyramid.response import Response

    from sessiondemo.headers import headers_tween_factory

    def handler(request):
        response = Response('x')
        response.headerlist.append((name, 'max-age=3600'))
        response.set_cookie('c', 'v')
        return response
    response = headers_tween_factory(handler, None)(Request.blank('/'))
    assert [value for key, value in response.headerlist
            if key.lower() == 'cache-control'] == ['no-store']
