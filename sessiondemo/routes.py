"""The URL map, and which routes' views use the users database."""

# Only requests for these open a pyramid_tm transaction (models.needs_transaction):
# every other request, an authenticated read included, never touches the users
# database. A view elsewhere that asks for request.dbsession fails loudly (no
# transaction) instead of every request paying for one.
USERS_DB_ROUTES = {'api_register', 'api_login', 'api_users', 'api_password',
                   'api_revoke_others', 'login', 'register', 'sessions_revoke_others'}


def includeme(config):
    patterns = {}

    def add_route(name, pattern):
        patterns[name] = pattern
        config.add_route(name, pattern)

    # Pyramid tries routes in the order they were added, a regular expression
    # each: what a logged-in client asks on every request comes first (a read
    # of /api/me went through seven patterns before its own, ~10 µs).
    add_route('api_me', '/api/me')
    add_route('api_session_data', '/api/session/data')
    add_route('api_csrf', '/api/csrf')
    add_route('api_greet', '/api/greet')
    add_route('healthz', '/healthz')
    add_route('api_openapi', '/api/openapi.json')
    add_route('api_register', '/api/register')
    add_route('api_login', '/api/login')
    add_route('api_logout', '/api/logout')
    add_route('api_users', '/api/users')
    add_route('api_inspect', '/api/session')
    add_route('home', '/')
    add_route('login', '/login')
    add_route('register', '/register')
    add_route('logout', '/logout')
    add_route('api_sessions', '/api/sessions')
    add_route('api_revoke_others', '/api/sessions/revoke-others')
    add_route('api_session', '/api/sessions/{handle}')
    add_route('api_password', '/api/password')
    add_route('inspect', '/session')
    add_route('sessions', '/sessions')
    add_route('sessions_revoke_others', '/sessions/revoke-others')
    add_route('session_revoke', '/sessions/{handle}/revoke')
    config.add_static_view('static', 'static', cache_max_age=3600)
    # Static patterns: the request's path says whether it needs the database.
    config.registry.users_db_paths = frozenset(patterns[name] for name in USERS_DB_ROUTES)
