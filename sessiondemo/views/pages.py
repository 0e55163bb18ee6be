"""HTML pages: home, login, register, logout (forms post a csrf_token field)."""
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config

from .. import accounts
from ..errors import ApiError, TooManyRequests, safe_next
from ..security import log_in, log_out

PUBLIC = NO_PERMISSION_REQUIRED


@view_config(route_name='home', request_method='GET', renderer='../templates/home.jinja2')
def home(request):
    return {'user': request.identity}


def _form_page(request, template_values, status=200):
    request.response.status = status
    return dict(template_values, next=safe_next(request.params.get('next', '/')))


@view_config(route_name='login', request_method='GET', renderer='../templates/login.jinja2',
             permission=PUBLIC)
@view_config(route_name='register', request_method='GET',
             renderer='../templates/register.jinja2', permission=PUBLIC)
def form(request):
    return _form_page(request, {'error': None, 'username': ''})


@view_config(route_name='login', request_method='POST', renderer='../templates/login.jinja2',
             permission=PUBLIC)
def login_post(request):
    username = request.POST.get('username', '')
    try:
        username, password = accounts.read_credentials(
            {'username': username, 'password': request.POST.get('password', '')})
        user = accounts.authenticate(request, username, password)
    except TooManyRequests as error:
        request.response.headers.update(error.headers)
        return _form_page(request, {'error': error.message, 'username': username},
                          status=error.status)
    except ApiError:
        # One message for every failure: unknown user, wrong password, bad input.
        return _form_page(request, {'error': 'Unknown username or wrong password.',
                                    'username': username}, status=401)
    log_in(request, user)
    return HTTPSeeOther(location=safe_next(request.POST.get('next', '/')))


@view_config(route_name='register', request_method='POST',
             renderer='../templates/register.jinja2', permission=PUBLIC)
def register_post(request):
    username = request.POST.get('username', '')
    try:
        username, password = accounts.read_credentials(
            {'username': username, 'password': request.POST.get('password', '')})
        user = accounts.register(request, username, password)
    except ApiError as error:
        return _form_page(request, {'error': error.message, 'username': username},
                          status=error.status)
    log_in(request, user)
    return HTTPSeeOther(location=safe_next(request.POST.get('next', '/')))


@view_config(route_name='logout', request_method='POST', permission=PUBLIC)
def logout_post(request):
    log_out(request)
    return HTTPSeeOther(location='/login')
