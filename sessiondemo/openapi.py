"""The API describes itself: openapi.yaml, served and enforced.

``openapi.yaml`` (in this package) is read once at start-up, checked by
openapi-spec-validator, served as JSON at ``GET /api/openapi.json`` and handed
to pyramid_openapi3, which validates the request of every view marked
``openapi=True`` against it. Its view deriver sits inside Pyramid's CSRF and
permission derivers, so a request is checked in the contract's order: body
size (ingress tween, 413), CSRF (403), login (401), then the document (400).

pyramid_openapi3 is used as it is, except where its defaults break the contract:
- its exception view answers a list of errors; ours maps them onto the
  contract's ``invalid_json`` / ``invalid_input`` shape instead (a body that
  does not parse, or an empty one, is ``invalid_json``; anything else is
  ``invalid_input``), and a response that breaks the document is ``internal``;
- its ``pyramid_openapi3_spec`` directive serves the file as ``text/yaml`` to
  any method; the contract wants JSON, and 405 for anything but GET, so the
  document is registered under the library's settings key here and served by
  a view of our own;
- it would parse JSON bodies with ``json.loads``, which takes ``NaN`` and
  undecodable bytes; the deserializer here is as strict as ``ingress.json_object``;
- Pyramid answers HEAD with the GET view, but the document describes GET, so
  HEAD is validated as GET (and its empty body is not held against the
  response's schema).

Response validation (``pyramid_openapi3.enable_response_validation``) is off
unless a setting turns it on: the tests do, production need not pay for it.
"""
import functools
import json
import logging
from urllib.parse import parse_qsl

import yaml
from openapi_core import V30ResponseValidator
from openapi_core.deserializing.media_types.exceptions import MediaTypeDeserializeError
from openapi_core.templating.media_types.exceptions import MediaTypeNotFound
from openapi_core.unmarshalling.request import V30RequestUnmarshaller
from openapi_core.validation.request.exceptions import (
    MissingRequestBodyError, ParameterValidationError, SecurityValidationError)
from openapi_spec_validator import validate
from jsonschema_path import SchemaPath
from openapi_core.validation.request.datatypes import RequestParameters
from pyramid.path import AssetResolver
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.settings import asbool
from pyramid_openapi3 import RequestValidationError, ResponseValidationError
from pyramid_openapi3.wrappers import PyramidOpenAPIRequest
from webob.multidict import MultiDict

from .errors import Internal, InvalidInput, InvalidJSON, Unauthenticated, error_response

log = logging.getLogger(__name__)

SPEC_ASSET = 'sessiondemo:openapi.yaml'
APINAME = 'pyramid_openapi3'          # the library's settings key for its one API
RESPONSE_VALIDATION = 'pyramid_openapi3.enable_response_validation'


@functools.lru_cache(maxsize=None)
def _document_json():
    # Parsed and checked once per process (both take a good part of a second,
    # and tests make an app per test); kept as text so no caller can change it.
    path = AssetResolver().resolve(SPEC_ASSET).abspath()
    with open(path, encoding='utf-8') as f:
        document = yaml.load(f, Loader=getattr(yaml, 'CSafeLoader', yaml.SafeLoader))
    validate(document)
    return json.dumps(document)


def load_document(cookie_name='sid'):
    """The document as a dict of its own, the session cookie named as configured."""
    document = json.loads(_document_json())
    document['components']['securitySchemes']['sessionCookie']['name'] = cookie_name
    return document


def strict_json_loads(value, **parameters):
    """JSON as ``ingress.json_object`` reads it: UTF-8 only, no NaN or Infinity.
    ValueError (UnicodeDecodeError is one) becomes the library's
    MediaTypeDeserializeError, which maps to ``invalid_json``."""
    if isinstance(value, bytes):
        value = value.decode('utf-8')
    return json.loads(value, parse_constant=_reject_constant)


def _reject_constant(name):
    raise ValueError(f'{name} is not JSON')


# Errors ------------------------------------------------------------------------

def _causes(error):
    while error is not None:
        yield error
        error = error.__cause__ or error.__context__


def _describe(schema_error):
    """One short sentence about a JSON Schema error, naming the field but never
    echoing the value (which may be a password, or a megabyte)."""
    field = '/'.join(str(part) for part in schema_error.path)
    validator, expected = schema_error.validator, schema_error.validator_value
    if validator == 'required':
        missing = [name for name in expected if name not in (schema_error.instance or {})]
        return f"{', '.join(missing) or 'a field'} is required."
    if validator == 'type' and not field:
        return 'The request body must be a JSON object.'
    what = {
        'type': f'must be of type {expected}',
        'minLength': f'must be at least {expected} characters',
        'maxLength': f'must be at most {expected} characters',
        'pattern': f'must match {expected}',
    }.get(validator, f'fails {validator}')
    return f'{field or "The request body"} {what}.'


def to_api_error(errors):
    """The contract's error for openapi-core's request errors."""
    for error in errors:
        chain = list(_causes(error))
        if any(isinstance(e, (MediaTypeDeserializeError, MissingRequestBodyError))
               for e in chain):
            return InvalidJSON()
        if any(isinstance(e, SecurityValidationError) for e in chain):
            return Unauthenticated()
    for error in errors:
        chain = list(_causes(error))
        if any(isinstance(e, MediaTypeNotFound) for e in chain):
            return InvalidInput('The request body must be application/json.')
        for e in chain:
            schema_errors = getattr(e, 'schema_errors', None)
            if schema_errors:
                return InvalidInput(_describe(schema_errors[0]))
        if isinstance(error, ParameterValidationError):
            return InvalidInput(f'{error.location.title()} parameter {error.name} is not valid.')
    return InvalidInput()


def request_validation_error_view(exc, request):
    return error_response(request, to_api_error(exc.errors))


def response_validation_error_view(exc, request):
    # Our fault, not the client's: the response broke our own document.
    log.error('response to %s %s breaks openapi.yaml: %s',
              request.method, request.path_info, exc)
    return error_response(request, Internal())


# What openapi-core sees of a request ---------------------------------------------

NOT_UTF8 = b'(a body that is not UTF-8)'


class _Request(PyramidOpenAPIRequest):
    def __init__(self, request):
        try:
            super().__init__(request)
        except UnicodeDecodeError:
            # A query string that is not UTF-8: WebOb's request.GET raises on
            # it. No operation takes query parameters, so it must not turn a
            # GET into an error; validate what it says, undecodable bytes replaced.
            # (The library's response check would read request.GET again: skip it.)
            query = MultiDict(parse_qsl(request.query_string, keep_blank_values=True,
                                        errors='replace'))
            request.environ['pyramid_openapi3.validate_response'] = False
            self.request = request
            self.parameters = RequestParameters(path=request.matchdict, query=query,
                                                header=request.headers, cookie=request.cookies)

    @property
    def method(self):
        # Pyramid answers HEAD with the GET view; the document describes GET.
        method = self.request.method.lower()
        return 'get' if method == 'head' else method

    @property
    def body(self):
        # openapi-core's MediaTypeDeserializeError decodes the body strictly to
        # print itself, so a body that is not UTF-8 would crash pyramid_openapi3
        # while it builds its exception (a 500). It is not JSON either way: hand
        # over bytes that print and still fail to parse, so it is invalid_json.
        body = self.request.body
        try:
            body.decode('utf-8')
        except UnicodeDecodeError:
            return NOT_UTF8
        return body


def openapi_validated(request):
    """pyramid_openapi3's ``request.openapi_validated``, seeing the request as ``_Request``."""
    if not request.environ.get('pyramid_openapi3.enabled'):
        raise AttributeError('openapi validation is for views marked openapi=True')
    if not request.environ.get('pyramid_openapi3.validate_request'):
        return {}
    if not (request.body or request.query_string or request.matchdict):
        # Nothing here the document could reject: the router matched path and
        # method, and the session cookie it names is the security policy's
        # (a 401 before this runs). openapi-core's path lookup costs more than
        # the whole rest of such a request (GET /api/me: ~1.5 ms of ~2.7).
        return {}
    if request.method == 'HEAD':
        request.environ['pyramid_openapi3.validate_response'] = False   # no body to check
    return request.registry.settings[APINAME]['request_validator'].unmarshal(_Request(request))


# The document ----------------------------------------------------------------

def openapi_document_view(request):
    response = Response(body=request.registry.openapi_json, content_type='application/json',
                        charset='utf-8')
    response.cache_control = 'no-cache'
    return response


def includeme(config):
    settings = config.get_settings()
    settings[RESPONSE_VALIDATION] = asbool(settings.get(RESPONSE_VALIDATION, False))
    config.include('pyramid_openapi3')
    config.pyramid_openapi3_add_deserializer('application/json', strict_json_loads)

    document = load_document(settings.get('session.cookie_name') or 'sid')
    config.registry.openapi_json = json.dumps(document, indent=1).encode('utf-8')
    spec = SchemaPath.from_dict(document)
    deserializers = settings['pyramid_openapi3_deserializers']
    # What pyramid_openapi3_spec would register, minus its text/yaml view.
    settings[APINAME] = {
        'filepath': AssetResolver().resolve(SPEC_ASSET).abspath(),
        'spec_route_name': 'api_openapi',
        'spec': spec,
        'request_validator': V30RequestUnmarshaller(
            spec, extra_media_type_deserializers=deserializers),
        'response_validator': V30ResponseValidator(
            spec, extra_media_type_deserializers=deserializers),
    }
    settings.setdefault('pyramid_openapi3_apinames', []).append(APINAME)

    # Ours override the library's (they are made by the config that included it).
    config.add_request_method(openapi_validated, name='openapi_validated', reify=True)
    config.add_exception_view(request_validation_error_view, context=RequestValidationError)
    config.add_exception_view(response_validation_error_view, context=ResponseValidationError)

    config.add_view(openapi_document_view, route_name='api_openapi', request_method='GET',
                    permission=NO_PERMISSION_REQUIRED, openapi=True)
