"""schemathesis against the live app: the document it serves is the truth.

The app runs under waitress on a free loopback port; schemathesis loads
GET /api/openapi.json from it and, for every operation, sends generated requests
(valid ones and ones that break the document) and checks each answer: no 5xx,
only documented statuses, content types and headers, bodies that fit the
documented schemas, and requests that break the document rejected.

Every case runs as frodo, freshly logged in, with a valid CSRF token: the
document's protected and unsafe operations are reached, not just refused at the
door (the door itself is the contract suite's and the fuzzer's business). A fresh
login per case, because cases log out, log in as someone else, change passwords
and revoke sessions. The example budget is fixed and the generation
derandomized, so CI sends the same requests every run.

Cases come from schemathesis's own strategies (``operation.as_strategy``) under
hypothesis, not from its pytest plugin: ``schemathesis.pytest.from_fixture``
(4.32) reads ``request.node._nodeid``, which pytest 9 no longer has, and the
schema must come from a fixture here, the live server being one.
"""

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, negative_data_rejection, response_headers_conformance,
    response_schema_conformance, status_code_conformance)

from realservers import serving
from sessiondemo import main

from .helpers import PASSWORD, STORES

EXAMPLES = 25           # per operation, for each generation mode
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance, negative_data_rejection]


@pytest.fixture(params=STORES)
def store(request):
    """Every store: the contract is the same whatever holds the session."""
    return request.param


@pytest.fixture
def live_server(app_settings):
    """The app under waitress on a free loopback port, responses checked against
    the document inside the app too, the login throttle out of frodo's way."""
    app = main({}, **dict(app_settings, **{
        'openapi.validate_responses': 'true',
        'auth.max_failures': '1000000',
        'auth.max_failures_per_address': '0',
    }))
    with serving(app) as url:
        client = requests.Session()
        token = client.get(url + '/api/csrf').json()['csrf_token']
        client.post(url + '/api/register', json={'username': 'frodo', 'password': PASSWORD},
                    headers={'X-CSRF-Token': token}).raise_for_status()
        yield url


@pytest.fixture
def live_schema(live_server):
    """The document as the running app serves it (loaded from the response, not
    by URL: schemathesis leaves out the operation a schema URL points at, and
    GET /api/openapi.json is one of ours).

    Each case supplies frodo's session cookie and CSRF token itself, so the
    document's session-cookie security and CSRF header are taken out of what
    schemathesis generates: left in, its invalid cases would drop or garble
    them, and the request would be refused at the door (401, 403) before the
    body it meant to test was read."""
    response = requests.get(live_server + '/api/openapi.json')
    assert response.status_code == 200 and response.headers['Content-Type'].startswith(
        'application/json')
    document = response.json()
    for item in document['paths'].values():
        for operation in item.values():
            operation.pop('security', None)
            operation['parameters'] = [p for p in operation.get('parameters', [])
                                       if p.get('$ref') != '#/components/parameters/CsrfToken']
    return schemathesis.openapi.from_dict(document)


def logged_in(url):
    """A client logged in as frodo, with its CSRF token."""
    client = requests.Session()
    token = client.get(url + '/api/csrf').json()['csrf_token']
    client.post(url + '/api/login', json={'username': 'frodo', 'password': PASSWORD},
                headers={'X-CSRF-Token': token}).raise_for_status()
    return client, token


def test_the_live_app_keeps_to_its_document(live_schema, live_server):
    operations = [result.ok() for result in live_schema.get_all_operations()]
    assert len(operations) == 16, [op.label for op in operations]   # every JSON endpoint
    for operation in operations:
        run_cases(operation, GenerationMode.POSITIVE, live_server)
        if takes_input(operation):
            run_cases(operation, GenerationMode.NEGATIVE, live_server)


def takes_input(operation):
    """A body that a request can get wrong (the one path parameter, a session
    handle, is any non-empty string: nothing in a URL can break it)."""
    return 'requestBody' in operation.definition.raw


def run_cases(operation, mode, url):
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case):
        client, token = logged_in(url)
        case.call_and_validate(base_url=url, session=client, headers={'X-CSRF-Token': token},
                               checks=CHECKS)

    try:
        check()
    except Exception as error:
        error.add_note(f'schemathesis: {operation.label}, {mode.value} cases')
        raise
