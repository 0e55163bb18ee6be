"""Requests checked against the document by validators built once at start-up.

For every operation of openapi.yaml, ``Operation`` holds a compiled validator
(jsonschema-rs, draft 4: what OpenAPI 3.0's schemas are, less ``nullable``,
which no request schema here uses) for its request body and path parameters,
built on schemas whose ``$ref``s were inlined at start-up: a request pays for a
dict lookup and about a microsecond of checks, never for a walk of the
document (openapi-core's, ~3.5 ms a request here; jsonschema's own validator,
~60 µs for the credentials). The body is read once, by the one strict JSON
reader (strictjson.py), and the view receives what it read as
``request.validated``. Responses, checked only when a setting asks (the
tests), use openapi-schema-validator's OAS 3.0 validator, formats included.

Checks run in the contract's order: a body that is missing or not JSON is
``invalid_json``; a body that is not ``application/json``, or fails its
schema, ``invalid_input`` with one sentence naming the field (never echoing
the value, which may be a password or a megabyte).
"""
import json

import jsonschema_rs
from jsonschema.exceptions import best_match
from openapi_schema_validator import OAS30Validator

from .. import strictjson
from ..errors import InvalidInput, InvalidJSON

METHODS = {'get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'}


def describe(error, schema):
    """One short sentence about a jsonschema-rs error: the field, not the value."""
    field = '/'.join(str(part) for part in error.instance_path)
    keyword = error.schema_path[-1] if error.schema_path else ''
    if keyword == 'required':
        return f'{error.kind.property} is required.'
    if keyword == 'type' and not field:
        return 'The request body must be a JSON object.'
    expected = schema
    for part in error.schema_path:
        expected = expected[part] if isinstance(expected, dict) else expected[int(part)]
    what = {
        'type': f'must be of type {expected}',
        'minLength': f'must be at least {expected} characters',
        'maxLength': f'must be at most {expected} characters',
        'pattern': f'must match {expected}',
    }.get(keyword, f'fails {keyword}')
    return f'{field or "The request body"} {what}.'


def first_error(validator, value):
    return best_match(validator.iter_errors(value))


class Schema:
    """A request schema compiled once; ``check`` answers in the contract's words."""

    def __init__(self, schema):
        self.schema = schema
        self.validator = jsonschema_rs.Draft4Validator(schema)

    def check(self, value):
        if not self.validator.is_valid(value):
            error = next(iter(self.validator.iter_errors(value)))
            raise InvalidInput(describe(error, self.schema))
        return value


class Operation:
    """One method of one path of the document, with its validators built."""

    def __init__(self, method, path, spec):
        self.method, self.path = method, path
        body = spec.get('requestBody') or {}
        schema = body.get('content', {}).get('application/json', {}).get('schema')
        self.body = Schema(schema) if schema is not None else None
        self.path_parameters = {p['name']: jsonschema_rs.Draft4Validator(p['schema'])
                                for p in spec.get('parameters', ()) if p['in'] == 'path'}
        self.responses = {status: _ResponseSpec(response)
                          for status, response in spec.get('responses', {}).items()}

    def validate_request(self, request):
        """The body as read and checked (None when the operation takes none)."""
        for name, validator in self.path_parameters.items():
            if not validator.is_valid(request.matchdict.get(name)):
                raise InvalidInput(f'Path parameter {name} is not valid.')
        if self.body is None:
            return None
        body = request.body         # kept by the ingress tween (JSON), read once here
        if not body:
            raise InvalidJSON()
        if request.content_type != 'application/json':
            raise InvalidInput('The request body must be application/json.')
        return self.validate_body(strictjson.loads(body))

    def validate_body(self, value):
        """``value`` if it fits the body's schema, else InvalidInput."""
        return self.body.check(value)

    def check_response(self, request, response):
        """What is wrong with ``response`` by the document, or None."""
        spec = self.responses.get(str(response.status_int)) or self.responses.get('default')
        if spec is None:
            return f'status {response.status_int} is not documented'
        return spec.check(response, head=request.method == 'HEAD')


class _ResponseSpec:
    def __init__(self, response):
        media = response.get('content', {}).get('application/json')
        self.body = None if media is None else OAS30Validator(
            media['schema'], format_checker=OAS30Validator.FORMAT_CHECKER)
        self.headers = [name for name, header in response.get('headers', {}).items()
                        if header.get('required')]

    def check(self, response, head=False):
        missing = [name for name in self.headers if name not in response.headers]
        if missing:
            return f'header {", ".join(missing)} is missing'
        if self.body is None or head:
            return None
        if response.content_type != 'application/json':
            return f'content type {response.content_type} is not application/json'
        try:
            body = json.loads(response.body)
        except ValueError:
            return 'the body is not JSON'
        error = first_error(self.body, body)
        return None if error is None else f'{"/".join(map(str, error.path))}: {error.message}'


class OpenAPI:
    """The document as served, and an ``Operation`` per (path, METHOD)."""

    def __init__(self, document, inlined):
        self.document_json = json.dumps(document, indent=1).encode('utf-8')
        self.operations = {
            (path, method.upper()): Operation(method.upper(), path, spec)
            for path, item in inlined['paths'].items()
            for method, spec in item.items() if method in METHODS}

    def operation(self, request):
        """The operation a request's matched route and method name, or None.
        Pyramid answers HEAD with the GET view; the document describes GET."""
        route = request.matched_route
        if route is None:
            return None
        method = 'GET' if request.method == 'HEAD' else request.method
        return self.operations.get((route.pattern, method))

    def validate_input(self, method, path, value):
        """``value`` checked against the body schema of an operation: the
        pages' forms follow the same rules as the JSON endpoints they mirror."""
        return self.operations[path, method].validate_body(value)
