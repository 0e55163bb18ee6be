"""The JSON written and read back (fastjson.py), and the ``json`` renderer on it."""
import json

import pytest
from pyramid.config import Configurator
from webtest import TestApp as WebTest

from sessiondemo import fastjson


class Hobbit:
    def __init__(self, name):
        self.name = name

    def __json__(self, request):
        return {'name': self.name, 'path': request and request.path}


def renderer_app():
    """A Pyramid app on our ``json`` renderer alone, with views that test it."""
    with Configurator() as config:
        config.include('sessiondemo.fastjson')

        def plain(request):
            return {'n': 2 ** 70, 'text': 'Frodo — «Baggins»'}

        def chosen(request):
            request.response.content_type = 'application/problem+json'
            return {'title': 'chosen'}

        def hobbit(request):
            return {'hobbit': Hobbit('Sam')}

        def opaque(request):
            return {'x': object()}
        for name, view in [('plain', plain), ('chosen', chosen), ('hobbit', hobbit),
                           ('opaque', opaque)]:
            config.add_route(name, '/' + name)
            config.add_view(view, route_name=name, renderer='json')
        return WebTest(config.make_wsgi_app())


def test_the_renderer_writes_application_json_and_exact_integers():
    response = renderer_app().get('/plain')
    assert response.headers.getall('Content-Type') == ['application/json']
    assert json.loads(response.body) == {'n': 2 ** 70, 'text': 'Frodo — «Baggins»'}


def test_a_type_the_view_chose_is_kept():
    response = renderer_app().get('/chosen')
    assert response.headers.getall('Content-Type') == ['application/problem+json']


def test_an_object_is_written_as_its_json_method_says():
    assert renderer_app().get('/hobbit').json == {'hobbit': {'name': 'Sam', 'path': '/hobbit'}}


def test_without_a_request_too():
    render = fastjson.JSONRenderer(None)
    assert json.loads(render({'hobbit': Hobbit('Sam')}, {})) == {
        'hobbit': {'name': 'Sam', 'path': None}}


def test_an_object_without_one_is_an_error_not_a_guess():
    with pytest.raises(TypeError):
        renderer_app().get('/opaque')


@pytest.mark.parametrize('value', [
    {'n': 2 ** 70, 'm': 10 ** 19},
    {'n': -2 ** 70, 'x': 'é✓ 1234567890123456789012'},
    [1, 2 ** 64, 3.5],
    {'ok': 2 ** 64 - 1, 'low': -2 ** 63},
])
def test_long_integers_read_back_exactly(value):
    loaded = fastjson.loads(fastjson.dumps(value))
    assert loaded == value and fastjson.canonical(loaded) == fastjson.canonical(value)


def test_a_short_number_stays_on_the_fast_reader():
    assert fastjson.loads('{"t": 1733512345.5123456, "n": 123456789012345678}') == {
        't': 1733512345.5123456, 'n': 123456789012345678}
    with pytest.raises(ValueError):
        fastjson.loads('{"d": 1234567890123456789')       # long, and not JSON either
