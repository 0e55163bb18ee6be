"""Every input has an answer from the contract (issue 11, item 1), on every store.

Deep JSON, lone surrogate escapes, numbers that are not finite, forms WebOb
cannot parse, a ``next`` that is not ASCII, a cookie that is not UTF-8: each is
the client's 400 (or is ignored), never a 500, and a rejected request changes
nothing.
"""
import json
import logging
import sys

import pytest
from pyramid import testing

from sessiondemo import errors, strictjson
from sessiondemo.errors import InvalidInput, InvalidJSON

from .helpers import PASSWORD, assert_error, record_count, session_set_cookies

DEPTH = strictjson.MAX_DEPTH


def strict_json(response):
    """The body as JSON, refusing what Python's reader takes but JSON has not."""
    def refuse(name):
        raise AssertionError(f'{name} in a response body: not JSON')
    return json.loads(response.body, parse_constant=refuse)


def send(client, method, path, body, content_type='application/json', csrf=True, **kw):
    headers = {'X-CSRF-Token': client.csrf_token()} if csrf else {}
    return client.request(path, method=method, body=body, headers=headers,
                          content_type=content_type, expect_errors=True, **kw)


def nested(depth, leaf='1'):
    return '[' * depth + leaf + ']' * depth


# Deep JSON -------------------------------------------------------------------

@pytest.mark.parametrize('depth', [DEPTH + 1, 300, 3000, 100_000])
@pytest.mark.parametrize('method, path, template', [
    ('PATCH', '/api/session/data', '{"k": %s}'),
    ('POST', '/api/login', '{"username": "frodo", "password": %s}'),
    ('POST', '/api/register', '{"username": "sam", "password": %s}'),
    ('POST', '/api/password', '{"current_password": %s, "new_password": "whatever it is"}'),
])
def test_json_nested_deeper_than_the_limit_is_400_invalid_json(testapp, method, path, template,
                                                               depth):
    testapp.register('frodo')
    before = testapp.get('/api/session/data').json
    response = send(testapp, method, path, (template % nested(depth - 1)).encode())
    assert_error(response, 400, 'invalid_json')
    assert testapp.get('/api/session/data').json == before


def test_json_at_the_depth_limit_is_read(testapp):
    testapp.register('frodo')
    value = json.loads(nested(DEPTH - 1))
    testapp.api('PATCH', '/api/session/data', {'k': value}, status=200)
    assert testapp.get('/api/session/data').json['data']['k'] == value


def test_many_small_containers_are_not_deep(testapp):
    testapp.register('frodo')
    value = [{'a': [i]} for i in range(200)]
    testapp.api('PATCH', '/api/session/data', {'k': value}, status=200)
    assert testapp.get('/api/session/data').json['data']['k'] == value


def test_brackets_inside_strings_are_not_depth(testapp):
    testapp.register('frodo')
    text = '[{' * 100
    testapp.api('PATCH', '/api/session/data', {'k': text}, status=200)
    assert testapp.get('/api/session/data').json['data']['k'] == text


# Lone surrogates -------------------------------------------------------------

@pytest.mark.parametrize('method, path, body', [
    ('POST', '/api/register', r'{"username": "sam", "password": "\udc80 and more"}'),
    ('POST', '/api/login', r'{"username": "frodo", "password": "\ud800 and more"}'),
    ('POST', '/api/login', r'{"username": "fr\uDFFFodo", "password": "whatever it is"}'),
    ('PATCH', '/api/session/data', r'{"k": "\udc80"}'),
    ('PATCH', '/api/session/data', r'{"\udc80": 1}'),
    ('PATCH', '/api/session/data', r'{"k": [1, {"deep": ["\ud83d"]}]}'),
    ('PATCH', '/api/session/data', r'{"k": {"\ude00 key": true}}'),
    ('PATCH', '/api/session/data', r'{"k": "\ude00\ud83d"}'),       # a pair in the wrong order
    ('POST', '/api/password',
     r'{"current_password": "\udc80xxxxxxxx", "new_password": "whatever it is"}'),
])
def test_lone_surrogate_escapes_are_400_invalid_input(testapp, method, path, body):
    testapp.register('frodo')
    before = testapp.get('/api/session/data').json
    assert_error(send(testapp, method, path, body.encode()), 400, 'invalid_input')
    assert testapp.get('/api/session/data').json == before
    testapp.get('/api/me', status=200)


def test_surrogate_pairs_and_escaped_backslashes_are_fine(testapp):
    testapp.register('frodo')
    body = r'{"k": "\ud83d\ude00", "b": "\\udc80", "\ud83d\ude00": 1}'
    send(testapp, 'PATCH', '/api/session/data', body.encode(), status=200)
    data = testapp.get('/api/session/data').json['data']
    assert data == {'k': '\U0001F600', 'b': '\\udc80', '\U0001F600': 1}


# Numbers ---------------------------------------------------------------------

@pytest.mark.parametrize('number', ['1e999', '-1e999', '1E400', '-0.1e99999',
                                    '1' * 400 + '.0'])
def test_numbers_that_are_not_finite_are_400_invalid_input(testapp, number):
    testapp.register('frodo')
    testapp.api('PATCH', '/api/session/data', {'k': 1}, status=200)
    for body in [f'{{"k": {number}}}', f'{{"k": [1, {{"x": {number}}}]}}']:
        response = send(testapp, 'PATCH', '/api/session/data', body.encode())
        assert_error(response, 400, 'invalid_input')
    data = testapp.get('/api/session/data')
    assert strict_json(data) == {'data': {'k': 1}}


def test_an_integer_longer_than_python_reads_is_400_invalid_input(testapp):
    testapp.register('frodo')
    digits = '7' * (sys.get_int_max_str_digits() + 1)
    response = send(testapp, 'PATCH', '/api/session/data', f'{{"k": {digits}}}'.encode())
    assert_error(response, 400, 'invalid_input')


def test_large_finite_numbers_round_trip_as_json(testapp):
    testapp.register('frodo')
    body = '{"f": 1e308, "t": 1e-999, "i": 123456789012345678901234567890}'
    send(testapp, 'PATCH', '/api/session/data', body.encode(), status=200)
    assert strict_json(testapp.get('/api/session/data'))['data'] == {
        'f': 1e308, 't': 0.0, 'i': 123456789012345678901234567890}


def test_a_json_body_shorter_than_its_content_length_is_400_and_changes_nothing(testapp):
    """A body that ends before its Content-Length (waitress would not pass
    it on; another server might): the client's 400, not a 500, and the
    session keeps what it had."""
    testapp.register('frodo')
    send(testapp, 'PATCH', '/api/session/data', b'{"name": "Frodo"}', status=200)
    response = raw_patch(testapp, b'{"name": "Sam"}', '100')
    assert response.status_int == 400
    assert response.json['error']['code'] == 'invalid_input'
    assert testapp.get('/api/session/data').json == {'data': {'name': 'Frodo'}}


class Trickle:
    """A request body that comes a few bytes a read, as from a server that
    hands the app its input before all of it has arrived."""

    def __init__(self, data):
        self.data = data

    def read(self, size=-1):
        size = 3 if size is None or size < 0 else min(size, 3)
        chunk, self.data = self.data[:size], self.data[size:]
        return chunk


def raw_patch(testapp, body, content_length, wsgi_input=None):
    from webob import Request
    request = Request.blank('/api/session/data', method='PATCH', body=body,
                            content_type='application/json',
                            headers={'X-CSRF-Token': testapp.csrf_token(),
                                     'Cookie': '; '.join(f'{name}={value}' for name, value
                                                         in testapp.cookies.items())})
    request.environ['CONTENT_LENGTH'] = content_length
    if wsgi_input is not None:
        request.environ['wsgi.input'] = wsgi_input
        request.environ.pop('webob.is_body_seekable', None)
    return request.get_response(testapp.app)


def test_a_json_body_that_trickles_in_is_read_whole(testapp):
    testapp.register('frodo')
    body = b'{"name": "Samwise Gamgee"}'
    response = raw_patch(testapp, body, str(len(body)), Trickle(body))
    assert response.status_int == 200
    assert response.json == {'data': {'name': 'Samwise Gamgee'}}


def test_a_negative_content_length_is_400_and_reads_nothing(testapp):
    testapp.register('frodo')
    body = Trickle(b'{"name": "Sam"}')
    response = raw_patch(testapp, b'', '-1', body)
    assert response.status_int == 400
    assert response.json['error']['code'] == 'invalid_input'
    assert body.data == b'{"name": "Sam"}'


def test_the_json_renderer_writes_no_infinity(app):
    """Whatever a view returns, what goes out under /api/ is JSON: a float
    that is not finite is refused (a 500 in the contract's shape) or written
    as something JSON has, never as the bare word Infinity."""
    from pyramid.interfaces import IRendererFactory
    render = app.registry.getUtility(IRendererFactory, name='json')(None)
    assert json.loads(render({'a': 1.5}, {})) == {'a': 1.5}
    for value in (float('inf'), float('-inf'), float('nan')):
        try:
            text = render({'a': value}, {})
        except ValueError:
            continue
        json.loads(text, parse_constant=lambda name: pytest.fail(f'{name} written'))


def test_the_reader_unit():
    loads = strictjson.loads
    assert loads(b'{"username": "frodo", "n": 1.5}') == {'username': 'frodo', 'n': 1.5}
    assert loads(nested(DEPTH).encode()) == json.loads(nested(DEPTH))
    for bad in [nested(DEPTH + 1), '[' * 200_000, '{"a":' * 100 + '1' + '}' * 100, 'NaN',
                '[-Infinity]', '\xff']:
        with pytest.raises(InvalidJSON):
            loads(bad.encode('latin-1'))
    for bad in [r'"\udc80"', r'["\ud800"]', '[1e999]', '1e999', r'{"\udfff": 1}']:
        with pytest.raises(InvalidInput):
            loads(bad.encode())


# Forms -----------------------------------------------------------------------

FILE_PART = (b'--xyz\r\nContent-Disposition: form-data; name="username"; filename="f"\r\n\r\n'
             b'frodo\r\n--xyz--\r\n')
BAD_FORMS = [
    ('multipart/form-data', b'x'),
    ('multipart/form-data; boundary=', b'--\r\nbroken'),
    ('multipart/form-data; boundary="\xc3\xa9"', b'x'),
    ('multipart/form-data; boundary=xyz', FILE_PART),
    ('application/x-www-form-urlencoded; charset=latin-1', b'username=frodo'),
    ('application/x-www-form-urlencoded; charset=bogus', b'username=frodo'),
    ('multipart/form-data; boundary=xyz',
     b'--xyz\r\nContent-Disposition: form-data; name="username"\r\n'
     b'Content-Transfer-Encoding: base64\r\n\r\nabcde\r\n--xyz--\r\n'),
]


@pytest.mark.parametrize('method, path', [
    ('POST', '/register'), ('POST', '/login'), ('POST', '/logout'),
    ('DELETE', '/static/style.css'), ('POST', '/static/style.css'), ('PUT', '/login'),
    ('POST', '/api/login'), ('POST', '/api/logout'), ('PATCH', '/api/session/data'),
    ('POST', '/sessions/revoke-others'), ('POST', '/nope'),
])
def test_a_form_webob_cannot_read_is_400_wherever_it_is_sent(testapp, make_client, method,
                                                              path):
    make_client().register('frodo')
    records = record_count(testapp.app)
    for content_type, body in BAD_FORMS:
        # No CSRF header: the CSRF check itself reads the form.
        response = testapp.request(path, method=method, body=body, expect_errors=True,
                                   headers={'Content-Type': content_type})
        assert response.status_int == 400, (content_type, response.status, response.body[:300])
        if path.startswith('/api/'):
            assert_error(response, 400, 'invalid_input')
        else:
            assert response.content_type == 'text/html'
        assert not session_set_cookies(response)
        assert record_count(testapp.app) == records


@pytest.mark.parametrize('path', ['/login', '/register', '/api/me', '/static/style.css'])
def test_a_safe_request_never_reads_a_form(testapp, path):
    """GET has no form to read: its body and form headers are ignored."""
    testapp.register('frodo')
    for content_type, body in BAD_FORMS:
        response = testapp.request(path + '?next=/x', method='GET', body=body,
                                   headers={'Content-Type': content_type})
        assert response.status_int == 200, (content_type, response.status)


def test_a_good_multipart_form_still_logs_in(testapp, make_client):
    make_client().register('frodo')
    page = testapp.get('/login')
    token = page.html.find('input', {'name': 'csrf_token'})['value']
    response = testapp.post('/login', {'username': 'frodo', 'password': PASSWORD,
                                       'csrf_token': token, 'next': '/sessions'},
                            content_type='multipart/form-data', status=303)
    assert response.location.endswith('/sessions')


# next ------------------------------------------------------------------------

@pytest.mark.parametrize('target, expected', [
    ('/\u20acx', '/%E2%82%ACx'),
    ('/%E2%82%ACx', '/%E2%82%ACx'),
    ('/a b?q=\u00e9&r=1#top', '/a%20b?q=%C3%A9&r=1#top'),
    ('/\U0001F600', '/%F0%9F%98%80'),
    ('/%2F%2Fevil.example', '/%2F%2Fevil.example'),
    ('/\x7fx', '/'), ('/\tx', '/'), ('//evil.example', '/'), ('/\\evil.example', '/'),
    ('\u20ac', '/'),
])
def test_next_is_normalised_to_a_local_ascii_path(testapp, make_client, target, expected):
    make_client().register('frodo')
    page = testapp.get('/login', {'next': target}, status=200)
    shown = page.html.find('input', {'name': 'next'})['value']
    assert shown == expected
    token = page.html.find('input', {'name': 'csrf_token'})['value']
    response = testapp.post('/login', {'username': 'frodo', 'password': PASSWORD,
                                       'csrf_token': token, 'next': target}, status=303)
    assert response.location in (expected, 'http://localhost' + expected)
    assert response.headers['Location'].isascii()


def test_safe_next_unit():
    assert errors.safe_next('/\u20acx') == '/%E2%82%ACx'
    assert errors.safe_next('/x\udc80') == '/'
    assert errors.safe_next(None) == '/'
    assert errors.safe_next('/ok?a=1&b=%20') == '/ok?a=1&b=%20'


# Cookies ---------------------------------------------------------------------

@pytest.mark.parametrize('bad', ['bad="\\377\\376"', 'bad=\xff\xfe', 'b\xe9d=1',
                                 'bad="\\303\\050"'],
                         ids=['escaped', 'raw-latin-1', 'bad-name', 'escaped-bad-utf8'])
def test_one_undecodable_cookie_is_dropped_alone(testapp, bad):
    testapp.register('frodo')
    token = testapp.csrf_token()
    jar = '; '.join(f'{name}={value}' for name, value in testapp.cookies.items())
    client = type(testapp)(testapp.app, extra_environ={
        'HTTP_HOST': 'localhost', 'REMOTE_ADDR': '127.0.0.1',
        'HTTP_COOKIE': f'{bad}; {jar}; other=ok'})
    assert client.get('/api/me', status=200).json['user']['username'] == 'frodo'
    # The CSRF cookie beside it stays too: an unsafe request still passes.
    client.request('/api/session/data', method='PATCH', body=b'{"k": 1}', status=200,
                   headers={'X-CSRF-Token': token, 'Content-Type': 'application/json'})


# Logging ---------------------------------------------------------------------

def test_an_unexpected_error_is_logged_once_and_briefly(caplog):
    def ping(n):
        return pong(n + 1)

    def pong(n):
        return ping(n + 1)

    try:
        ping(0)
    except RecursionError as error:
        caught = error
    request = testing.DummyRequest(environ={'PATH_INFO': '/api/session/data'},
                                   method='PATCH')
    with caplog.at_level(logging.ERROR, logger='sessiondemo.errors'):
        response = errors.internal_error_view(caught, request)
    assert response.status_int == 500 and response.json['error']['code'] == 'internal'
    (record,) = caplog.records
    text = record.getMessage()
    assert 'RecursionError' in text and 'frames left out' in text
    assert 'in ping' in text and 'in pong' in text
    assert len(text) < 2 * errors.TRACEBACK_ENDS * 200, len(text)
