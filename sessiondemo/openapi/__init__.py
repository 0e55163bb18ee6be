"""The API describes itself: openapi.yaml, served and enforced.

``openapi.yaml`` (in the package) is the one source of the JSON API's rules:
read and checked once (document.py), served as JSON at ``GET
/api/openapi.json``, and compiled at start-up into validators (validation.py)
that check the request of every view marked ``openapi=True``. The view deriver
sits inside Pyramid's CSRF and permission derivers (a deriver's default
place), so a request is checked in the contract's order: body size (ingress
tween, 413), CSRF (403), login (401), then the document (400).

Response validation (``openapi.validate_responses``) is off unless a setting
turns it on: the tests do, production need not pay for it. A response that
breaks the document is our fault: logged, and answered 500 ``internal``.
"""
import logging

from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.tweens import EXCVIEW

from ..errors import Internal, error_response
from .document import SPEC_ASSET, inline_refs, load_document, openapi_document_view  # noqa: F401
from .validation import OpenAPI

log = logging.getLogger(__name__)


def openapi_view(view, info):
    """The view deriver behind the ``openapi=True`` view option."""
    if not info.options.get('openapi'):
        return view
    api = info.registry.openapi

    def validated_view(context, request):
        operation = api.operation(request)
        if operation is not None:
            request.validated = operation.validate_request(request)
        return view(context, request)
    return validated_view


openapi_view.options = ('openapi',)


def response_validation_tween_factory(handler, registry):
    api = registry.openapi

    def response_validation_tween(request):
        response = handler(request)
        operation = api.operation(request)
        problem = operation and operation.check_response(request, response)
        if problem:
            log.error('response to %s %s breaks openapi.yaml: %s',
                      request.method, request.path_info, problem)
            return error_response(request, Internal())
        return response
    return response_validation_tween


def includeme(config):
    registry = config.registry
    document = load_document(registry.app_settings.session.cookie.name)
    registry.openapi = OpenAPI(document, inline_refs(document))
    config.add_view_deriver(openapi_view)
    if registry.app_settings.validate_responses:
        # Above the exception views: it sees every answer, errors included.
        config.add_tween('sessiondemo.openapi.response_validation_tween_factory',
                         over=EXCVIEW)
    config.add_view(openapi_document_view, route_name='api_openapi', request_method='GET',
                    permission=NO_PERMISSION_REQUIRED, openapi=True)
