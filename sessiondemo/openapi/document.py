"""openapi.yaml: read and checked once per process, served at GET /api/openapi.json."""
import copy
import functools
import json

import yaml
from openapi_spec_validator import validate
from pyramid.path import AssetResolver
from pyramid.response import Response

SPEC_ASSET = 'sessiondemo:openapi.yaml'


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


def resolve(document, pointer):
    """The part of ``document`` at a local JSON pointer (``#/a/b``)."""
    node = document
    for part in pointer.lstrip('#/').split('/'):
        node = node[part.replace('~1', '/').replace('~0', '~')]
    return node


def inline_refs(document, node=None):
    """``node`` with every local ``$ref`` replaced by what it names (the
    document has no cycles), so a validator built on it resolves nothing."""
    node = document if node is None else node
    if isinstance(node, dict):
        if '$ref' in node:
            return inline_refs(document, copy.deepcopy(resolve(document, node['$ref'])))
        return {key: inline_refs(document, value) for key, value in node.items()}
    if isinstance(node, list):
        return [inline_refs(document, value) for value in node]
    return node


def openapi_document_view(request):
    response = Response(body=request.registry.openapi.document_json,
                        content_type='application/json', charset='utf-8')
    response.cache_control = 'no-cache'
    return response
