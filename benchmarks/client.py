"""A small HTTP client for the probes: one cookie jar, CSRF handled like any client.

GET /api/csrf gives a token and its cookie; every unsafe request sends the token
in ``X-CSRF-Token``. A login, registration or logout ends the token (the
contract rotates it), so the next unsafe request fetches a fresh one. Every
request has a timeout, so no probe can hang.
"""
import requests

TIMEOUT = 10
UNSAFE = {'POST', 'PUT', 'PATCH', 'DELETE'}
ROTATING = {'/api/register', '/api/login', '/api/logout'}     # a new CSRF token after these


class Client:
    def __init__(self, base_url):
        self.base_url = base_url
        self.http = requests.Session()
        self.token = None
        self.last = None

    def request(self, method, path, json=None, headers=None):
        headers = dict(headers or {})
        if method in UNSAFE:
            if self.token is None:
                self.fetch_token()
            headers['X-CSRF-Token'] = self.token
        self.last = self.http.request(method, self.base_url + path, json=json,
                                      headers=headers, timeout=TIMEOUT)
        if path in ROTATING and self.last.status_code < 400:
            self.token = None
        return self.last

    def fetch_token(self):
        response = self.http.get(self.base_url + '/api/csrf', timeout=TIMEOUT)
        response.raise_for_status()
        self.token = response.json()['csrf_token']

    def register(self, username, password):
        return self.request('POST', '/api/register',
                            json={'username': username, 'password': password})

    def login(self, username, password):
        return self.request('POST', '/api/login',
                            json={'username': username, 'password': password})

    def logout(self):
        return self.request('POST', '/api/logout')

    def me(self):
        return self.request('GET', '/api/me')

    def logged_in(self):
        return self.me().status_code == 200

    def patch(self, data):
        return self.request('PATCH', '/api/session/data', json=data)

    def forget_session(self, cookie_name):
        """Drop the session cookie but keep the CSRF one: the next login makes a new session."""
        for cookie in list(self.http.cookies):
            if cookie.name == cookie_name:
                self.http.cookies.clear(cookie.domain, cookie.path, cookie.name)

    def cookies(self):
        return {cookie.name: cookie.value for cookie in self.http.cookies}

    def cookie_header(self):
        """The ``Cookie`` header this client sends (what a browser would send)."""
        return '; '.join(f'{name}={value}' for name, value in self.cookies().items())

    def set_cookie_header(self, header):
        """Replace the jar with the cookies of a copied ``Cookie`` header."""
        self.http.cookies.clear()
        for pair in filter(None, (part.strip() for part in header.split(';'))):
            name, _, value = pair.partition('=')
            self.http.cookies.set(name, value)


def get_json(url, timeout=TIMEOUT):
    response = requests.get(url, timeout=timeout)
    response.raise_for_status()
    return response.json()
