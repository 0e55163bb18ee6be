"""Locust scenarios against sessiondemo (or a peer), as any JSON client would behave.

Each user keeps its cookies (FastHttpUser's jar), fetches a CSRF token from
GET /api/csrf and sends it in X-CSRF-Token on every unsafe request. Request
names start with the scenario, so one CSV can hold several scenarios; requests
made while setting a user up are named ``setup: ...`` and left out of figures.

    BENCH_PASSWORD   the password every benchmark user gets
    BENCH_SESSION_COOKIE   the session cookie's name (anonymous checks it is never set)
    BENCH_FINAL_CSV  where to write the final stats, in locust's own _stats.csv format
"""
import csv
import itertools
import os
import time
import uuid

from locust import FastHttpUser, constant, events, task
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

PASSWORD = os.environ.get('BENCH_PASSWORD', 'benchmark password')
SESSION_COOKIE = os.environ.get('BENCH_SESSION_COOKIE', 'sid')
ROTATING = {'/api/register', '/api/login', '/api/logout'}    # a new CSRF token after these


_environment = []


@events.init.add_listener
def remember_environment(environment, **kwargs):
    _environment.append(environment)


@events.quit.add_listener
def write_final_stats(**kwargs):
    # locust's --csv files are rewritten once a second and not at exit, so a
    # short run can end with stale or empty rows; this writes the end state.
    path = os.environ.get('BENCH_FINAL_CSV')
    if path and _environment:
        with open(path, 'w', newline='') as out:
            StatsCSV(_environment[0], PERCENTILES_TO_REPORT).requests_csv(csv.writer(out))


class Client(FastHttpUser):
    abstract = True
    wait_time = constant(0)        # closed loop: each user sends as fast as it is answered
    scenario = ''
    # Scenarios of several endpoints also report every request under one name, so
    # their percentiles are exact even when several scenarios share a CSV.
    summed = False

    def summarise(self, started, name, failed):
        if self.summed and not name.startswith('setup:'):
            events.request.fire(request_type='ALL', name=f'{self.scenario}: all requests',
                                response_time=(time.perf_counter() - started) * 1000,
                                response_length=0, context={},
                                exception=RuntimeError('failed') if failed else None)

    def on_start(self):
        self.token = None
        self.username = f'bench-{uuid.uuid4().hex[:16]}'

    def fetch_token(self, name='setup: GET /api/csrf'):
        with self.client.get('/api/csrf', name=name, catch_response=True) as response:
            self.token = response.json()['csrf_token'] if response.status_code == 200 else None

    def call(self, method, path, expect=200, json=None, name=None):
        headers = {}
        if method != 'GET':
            if self.token is None:
                self.fetch_token()
            headers['X-CSRF-Token'] = self.token
        name = name or f'{self.scenario}: {method} {path}'
        started = time.perf_counter()
        with self.client.request(method, path, json=json, headers=headers, catch_response=True,
                                 name=name) as response:
            failed = response.status_code != expect
            if failed:
                response.failure(f'{response.status_code}: {response.text[:200]}')
        self.summarise(started, name, failed)
        if path in ROTATING:
            self.token = None      # the contract rotates it: the next unsafe request fetches one
        return response

    def register(self, name=None):
        self.call('POST', '/api/register', expect=201,
                  json={'username': self.username, 'password': PASSWORD},
                  name=name or 'setup: POST /api/register')

    def login(self, name=None):
        self.call('POST', '/api/login', json={'username': self.username, 'password': PASSWORD},
                  name=name)


class ReaderUser(Client):
    """Log in once, then the authenticated read, again and again."""
    scenario = 'reader'

    def on_start(self):
        super().on_start()
        self.register()

    @task
    def read(self):
        self.call('GET', '/api/me')


class WriterUser(Client):
    """A session-writing request: every PATCH changes the session."""
    scenario = 'writer'

    def on_start(self):
        super().on_start()
        self.register()
        self.counter = itertools.count()

    @task
    def write(self):
        self.call('PATCH', '/api/session/data', json={'counter': next(self.counter),
                                                      'note': 'x' * 32})


class ChurnUser(Client):
    """Log in, a few requests (a fresh CSRF token after the login, as the contract
    asks of every client), log out: one cycle is reported as a whole too."""
    scenario = 'churn'

    def on_start(self):
        super().on_start()
        self.register()
        self.call('POST', '/api/logout', name='setup: POST /api/logout')

    @task
    def cycle(self):
        started = time.perf_counter()
        self.client.cookiejar.clear()          # a new visitor: no cookies at all
        self.token = None
        self.fetch_token(name='churn: GET /api/csrf')
        self.login(name='churn: POST /api/login')
        self.call('GET', '/api/me')
        self.call('PATCH', '/api/session/data', json={'name': 'Frodo'})
        self.call('GET', '/api/me')
        self.call('POST', '/api/logout')
        events.request.fire(request_type='CYCLE', name='churn: cycle (7 requests)',
                            response_time=(time.perf_counter() - started) * 1000,
                            response_length=0, exception=None, context={})


class AnonymousUser(Client):
    """Public endpoints only; a session cookie in any answer is a failure."""
    scenario = 'anonymous'
    summed = True

    def check(self, path):
        started = time.perf_counter()
        with self.client.get(path, name=f'anonymous: GET {path}',
                             catch_response=True) as response:
            failed = True
            if response.status_code != 200:
                response.failure(f'{response.status_code}')
            elif SESSION_COOKIE + '=' in (response.headers.get('Set-Cookie') or ''):
                response.failure('an anonymous request was given a session cookie')
            else:
                failed = False
        self.summarise(started, 'anonymous', failed)

    @task(3)
    def csrf(self):
        self.check('/api/csrf')

    @task(1)
    def health(self):
        self.check('/healthz')

    @task(1)
    def login_page(self):
        self.check('/login')


class MixUser(Client):
    """Mostly reads, some writes, now and then a fresh login, a few public hits."""
    scenario = 'mix'
    summed = True

    def on_start(self):
        super().on_start()
        self.register()

    @task(14)
    def read(self):
        self.call('GET', '/api/me')

    @task(2)
    def greet(self):
        self.call('GET', '/api/greet')

    @task(2)
    def write(self):
        self.call('PATCH', '/api/session/data', json={'seen': time.time()})

    @task(1)
    def public(self):
        self.call('GET', '/api/csrf')

    @task(1)
    def relogin(self):
        self.call('POST', '/api/logout')
        self.login(name='mix: POST /api/login')

