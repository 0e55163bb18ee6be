"""The API describes itself (http-api.md, "Describing itself"), on every store.

The document is served, public and session-free; it names every JSON endpoint
and every one of their views is validated against it (validators built once
from the document); its errors come out in the contract's shape.
"""
import json

import pytest
from openapi_spec_validator import validate

from .helpers import PASSWORD, assert_error, record_count

BODIES = [('POST', '/api/register'), ('POST', '/api/login'), ('PATCH', '/api/session/data'),
          ('POST', '/api/password')]


def json_views(app):
    """{(METHOD, pattern): view introspectable} of the JSON endpoints (under /api/, /healthz)."""
    introspector = app.registry.introspector
    views = {}
    for intr in introspector.get_category('views'):
        view = intr['introspectable']
        if view['route_name'] is None or view['request_methods'] is None:
            continue
        pattern = introspector.get('routes', view['route_name'])['pattern']
        if pattern.startswith('/api/') or pattern == '/healthz':
            methods = view['request_methods']
            for method in [methods] if isinstance(methods, str) else methods:
                views[method, pattern] = view
    return views


def test_the_document_is_public_json_and_creates_no_session(testapp):
    response = testapp.get('/api/openapi.json', status=200)
    assert response.content_type == 'application/json'
    document = response.json
    validate(document)                       # a valid OpenAPI 3 document
    assert document['openapi'].startswith('3.')
    assert not response.headers.getall('Set-Cookie')
    assert record_count(testapp.app) in (None, 0)


def test_the_document_takes_only_get(testapp):
    assert_error(testapp.api('POST', '/api/openapi.json'), 405, 'method_not_allowed')


def test_the_document_names_every_json_endpoint_and_nothing_else(testapp):
    documented = {(method.upper(), path)
                  for path, item in testapp.get('/api/openapi.json').json['paths'].items()
                  for method in item}
    assert documented == set(json_views(testapp.app))


def test_every_json_view_is_validated_against_the_document(app):
    views = json_views(app)
    assert views and all(view.get('openapi') is True for view in views.values()), \
        [key for key, view in views.items() if not view.get('openapi')]


def test_the_document_names_the_configured_session_cookie(app_settings, make_app_client):
    client = make_app_client(dict(app_settings, **{'session.cookie_name': 'ticket'}))
    schemes = client.get('/api/openapi.json').json['components']['securitySchemes']
    assert schemes['sessionCookie'] == dict(schemes['sessionCookie'], **{'in': 'cookie',
                                                                         'name': 'ticket'})


@pytest.mark.parametrize('method, path', BODIES)
def test_a_body_that_is_not_application_json_is_400_invalid_input(testapp, method, path):
    # Only the document says so (the views read any body as JSON): the
    # validator ran, and its error came out in the contract's shape.
    testapp.register('frodo')
    body = {'username': 'frodo', 'password': PASSWORD, 'current_password': PASSWORD,
            'new_password': PASSWORD}
    response = testapp.request(path, method=method, body=json.dumps(body).encode(),
                               headers={'X-CSRF-Token': testapp.csrf_token(),
                                        'Content-Type': 'text/plain'}, expect_errors=True)
    assert_error(response, 400, 'invalid_input')
    assert 'application/json' in response.json['error']['message']


@pytest.mark.parametrize('body, message', [
    ({'username': 'frodo'}, 'password is required.'),
    ({'username': 'x y', 'password': PASSWORD}, 'username must match'),
    ({'username': 'frodo', 'password': 'secret'}, 'password must be at least 8 characters'),
    ({'username': 'frodo', 'password': 'p' * 1025}, 'password must be at most 1024 characters'),
    ({'username': ['frodo'], 'password': PASSWORD}, 'username must be of type string'),
])
def test_validation_errors_name_the_field_but_never_echo_the_value(testapp, body, message):
    response = testapp.api('POST', '/api/register', body)
    assert_error(response, 400, 'invalid_input')
    assert message in response.json['error']['message']
    assert 'secret' not in response.text and 'ppppppppp' not in response.text
    testapp.login(status=401)                # nothing was registered


def test_every_body_rule_of_the_contract_is_in_the_document(testapp):
    schemas = testapp.get('/api/openapi.json').json['components']['schemas']
    assert schemas['Username']['pattern'] == '^[A-Za-z0-9._@-]{3,64}$'
    assert (schemas['Password']['minLength'], schemas['Password']['maxLength']) == (8, 1024)
    error = schemas['Error']['properties']['error']
    assert error['required'] == ['code', 'message']
    assert set(error['properties']['code']['enum']) == {
        'invalid_json', 'invalid_input', 'unauthenticated', 'invalid_credentials', 'bad_csrf',
        'forbidden', 'not_found', 'method_not_allowed', 'conflict', 'request_too_large',
        'session_too_large', 'too_many_requests', 'store_unavailable', 'internal'}


def test_retry_after_is_documented_on_429_and_503(testapp):
    responses = testapp.get('/api/openapi.json').json['components']['responses']
    for name in ('TooManyRequests', 'StoreUnavailable'):
        assert responses[name]['headers']['Retry-After']['$ref'] == \
            '#/components/headers/RetryAfter'


def test_head_is_answered_like_get(testapp):
    testapp.register('frodo')
    for path in ('/healthz', '/api/csrf', '/api/me', '/api/session/data'):
        response = testapp.head(path, status=200)
        assert response.body == b''


def test_a_query_string_that_is_not_utf8_is_no_500(testapp):
    testapp.register('frodo')
    assert testapp.get('/api/me?x=%ff', status=200).json['user']['username'] == 'frodo'
    testapp.get('/healthz?%ff=%fe', status=200)
    page = testapp.get('/login?next=%ff', expect_errors=True)
    assert page.status_int == 400 and page.content_type == 'text/html'


def test_response_validation_is_off_unless_a_setting_turns_it_on(app_settings, make_app_client):
    key = 'openapi.validate_responses'
    assert make_app_client(app_settings).app.registry.app_settings.validate_responses is False
    on = make_app_client(dict(app_settings, **{key: 'true'}))
    assert on.app.registry.app_settings.validate_responses is True
    on.get('/healthz', status=200)           # and what the app answers fits the document
