"""HTML pages: home, login, register, logout (forms post a csrf_token field)."""
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config

from .. import accounts, audit, readable
from ..errors import ApiError, InvalidCredentials, InvalidInput, safe_next
from ..security import log_in, log_out

PUBLIC = NO_PERMISSION_REQUIRED


@view_config(route_name='home', request_method='GET', renderer='../templates/home.jinja2')
def home(request):
    return {'user': request.identity}


def _form_page(request, template_values, status=200):
    request.response.status = status
    # The query's next on GET, the form's on POST: a GET's body is never read.
    fields = request.POST if request.method == 'POST' else request.GET
    return dict(template_values, next=safe_next(fields.get('next', '/')))


@view_config(route_name='login', request_method='GET', renderer='../templates/login.jinja2',
             permission=PUBLIC)
@view_config(route_name='register', request_method='GET',
             renderer='../templates/register.jinja2', permission=PUBLIC)
def form(request):
    return _form_page(request, {'error': None, 'wait': None, 'username': ''})


def _submit(request, find_user):
    """A login or registration form: the user found (or made) is logged in and
    sent on to ``next``; an error re-renders the form with its status."""
    username = request.POST.get('username', '')
    try:
        user = find_user(request, {'username': username,
                                   'password': request.POST.get('password', '')})
    except ApiError as error:
        request.response.headers.update(error.headers)     # Retry-After on a 429
        return _form_page(request, {'error': error.message, 'wait': _wait(error),
                                    'username': username}, status=error.status)
    log_in(request, user)
    return HTTPSeeOther(location=safe_next(request.POST.get('next', '/')))


def _wait(error):
    """How long to wait, in words, for an error that says (429, 503): a
    person reads "14 minutes", not a Retry-After header."""
    seconds = error.headers.get('Retry-After')
    return readable.duration(int(seconds)) if seconds and seconds.isdigit() else None


def _credentials(request, fields, path):
    # The rules of the JSON endpoint the form mirrors, from the document.
    return request.registry.openapi.validate_input('POST', path, fields)


def _authenticate(request, fields):
    try:
        fields = _credentials(request, fields, '/api/login')
    except InvalidInput:
        # One answer for every failed login, bad input included: the form
        # tells nothing about which usernames could exist.
        audit.event(request, 'login', 'failure', username=fields['username'])
        raise InvalidCredentials() from None
    return accounts.authenticate(request, fields['username'], fields['password'])


def _register(request, fields):
    fields = _credentials(request, fields, '/api/register')
    return accounts.register(request, fields['username'], fields['password'])


@view_config(route_name='login', request_method='POST', renderer='../templates/login.jinja2',
             permission=PUBLIC)
def login_post(request):
    return _submit(request, _authenticate)


@view_config(route_name='register', request_method='POST',
             renderer='../templates/register.jinja2', permission=PUBLIC)
def register_post(request):
    return _submit(request, _register)


@view_config(route_name='logout', request_method='POST', permission=PUBLIC)
def logout_post(request):
    log_out(request)
    return HTTPSeeOther(location='/login')
