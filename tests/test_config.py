"""Start-up settings: a bad or missing value stops start-up with one line naming the key."""
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pyramid.paster import get_appsettings

from sessiondemo import main
from sessiondemo.config import Timeouts, read

from .helpers import SECRET

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def store():
    """Settings are read the same whatever the store; one is enough here."""
    return 'memory'


def start_up_error(settings):
    with pytest.raises(SystemExit) as caught:
        main({}, **settings)
    message = str(caught.value.code)
    assert '\n' not in message
    return message


@pytest.mark.parametrize('key, value', [
    ('session.store', 'mongodb'),
    ('session.idle_timeout', 'soon'),
    ('session.absolute_timeout', '-1'),
    ('session.cookie_secure', 'maybe'),
    ('session.max_bytes', '1e3'),
    ('http.max_body_bytes', 'big'),
    ('auth.bcrypt_rounds', '99'),
    ('session.memory.max_sessions', '0'),
    ('session.store_timeout', 'never'),
    ('session.store_probe_interval', '0'),
    ('session.sql.synchronous', 'off'),
    ('observe.enabled', 'sometimes'),
    ('metrics.allow_from', '127.0.0.1/33'),
    ('metrics.allow_from', 'localhost'),
])
def test_bad_value_names_its_key(app_settings, key, value):
    app_settings[key] = value
    assert key in start_up_error(app_settings)


def test_missing_secret_names_its_key(app_settings):
    del app_settings['session.secrets']
    assert 'session.secrets' in start_up_error(app_settings)


def test_short_secret_is_refused(app_settings):
    app_settings['session.secrets'] = 'x' * 31
    assert 'session.secrets' in start_up_error(app_settings)


def test_every_secret_in_the_ring_must_be_long(app_settings):
    app_settings['session.secrets'] = f'{SECRET} short'
    assert 'session.secrets' in start_up_error(app_settings)


def test_production_refuses_the_example_secret(app_settings):
    app_settings['sessiondemo.production'] = 'true'
    app_settings['session.secrets'] = 'development-only-secret-do-not-use-in-production'
    assert 'session.secrets' in start_up_error(app_settings)


# Production refuses what would make it weak (issue 11) ---------------------

RANDOM_SECRET = 'Jx0vQ2mY7cLr-9aT_KpW4eZsN1hBfD6u8GqVtC3oRyE'     # token_urlsafe(32)
RANDOM_HEX_SECRET = '9f86d081884c7d659a2feaa0c55ad015'               # token_hex(16)


@pytest.fixture
def production_settings(app_settings):
    """A production configuration that starts: every rule below breaks one key."""
    return dict(app_settings, **{
        'sessiondemo.production': 'true', 'session.secrets': RANDOM_SECRET,
        'session.cookie_secure': 'true', 'auth.bcrypt_rounds': '12'})


def test_the_production_settings_start(production_settings):
    read(production_settings)
    read(dict(production_settings, **{'session.secrets': f'{RANDOM_HEX_SECRET} {RANDOM_SECRET}'}))


@pytest.mark.parametrize('secret', [
    'a' * 32, 'ab' * 16, 'passwordpasswordpasswordpassword', 'x' * 60 + 'abcdefgh',
    f'{RANDOM_SECRET} {"0" * 40}',          # every secret of the ring
])
def test_production_refuses_low_entropy_secrets(production_settings, secret):
    production_settings['session.secrets'] = secret
    assert start_up_error(production_settings).startswith(
        'sessiondemo: bad configuration: session.secrets:')


def test_low_entropy_secrets_are_only_refused_in_production(app_settings):
    read(dict(app_settings, **{'session.secrets': 'a' * 32}))


@pytest.mark.parametrize('value', ['false', None])
def test_production_refuses_insecure_cookies(production_settings, value):
    if value is None:
        del production_settings['session.cookie_secure']      # the default is false
    else:
        production_settings['session.cookie_secure'] = value
    assert 'session.cookie_secure' in start_up_error(production_settings)


@pytest.mark.parametrize('rounds', ['4', '11', None])
def test_production_refuses_bcrypt_rounds_under_12(production_settings, rounds):
    if rounds is None:
        read(dict(production_settings, **{'auth.bcrypt_rounds': '13'}))
        return
    production_settings['auth.bcrypt_rounds'] = rounds
    assert 'auth.bcrypt_rounds' in start_up_error(production_settings)


@pytest.mark.parametrize('name', ['__Host-sid', '__Secure-sid'])
def test_a_prefixed_cookie_name_requires_secure(app_settings, name):
    app_settings['session.cookie_name'] = name
    assert 'session.cookie_secure' in start_up_error(app_settings)
    app_settings['session.cookie_secure'] = 'true'
    read(app_settings)


def test_production_ini_uses_host_cookies(app_settings, make_app_client):
    """production.ini's own settings, on a memory store and the test's users
    database: the session cookie is a __Host- one, with what the prefix
    needs (Secure, Path=/, no Domain), and so is every cookie of that name."""
    ini = dict(get_appsettings(str(ROOT / 'production.ini'), name='main'))
    ini = {key: value for key, value in ini.items() if key.startswith(('session.', 'auth.'))}
    settings = {**app_settings, **ini, 'sessiondemo.production': 'true',
                'session.store': 'memory', 'session.secrets': RANDOM_SECRET}
    assert read(settings).session.cookie.name.startswith('__Host-')
    client = make_app_client(settings)
    # Secure cookies come back over https, where CSRF checks the Origin too.
    client.extra_environ.update({'wsgi.url_scheme': 'https', 'HTTP_ORIGIN': 'https://localhost'})
    response = client.register('frodo')
    set_cookies = response.headers.getall('Set-Cookie')
    assert any(header.startswith('__Host-sid=') for header in set_cookies), set_cookies
    for header in set_cookies:
        if header.startswith('__Host-'):
            attributes = [part.strip().lower() for part in header.split(';')[1:]]
            assert 'secure' in attributes and 'path=/' in attributes, header
            assert not any(part.startswith('domain') for part in attributes), header
    client.get('/api/me', status=200)


def test_touch_interval_is_clamped_to_half_the_idle_timeout():
    assert Timeouts(idle=100, absolute=1000, touch_interval=60).touch_interval == 50
    assert Timeouts(idle=1800, absolute=86400, touch_interval=60).touch_interval == 60


def test_secrets_come_from_the_environment(app_settings, monkeypatch):
    del app_settings['session.secrets']
    monkeypatch.setenv('SESSIONDEMO_SECRETS', SECRET)
    assert main({}, **app_settings).registry.settings['session.secrets'] == SECRET


def run_pserve(ini, *overrides, env=None):
    """pserve as a user runs it; returns (process, port)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, '-m', 'pyramid.scripts.pserve', str(ini), f'http_port={port}',
         *overrides],
        cwd=ini.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, **(env or {})))
    return process, port


def wait_for_health(process, port, deadline=30):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            raise AssertionError(process.stdout.read())
        try:
            with urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=1) as r:
                return r.read().decode()
        except OSError:
            time.sleep(0.05)   # polling a readiness condition, bounded by the deadline
    raise AssertionError('pserve did not answer')


@pytest.fixture
def dev_ini(tmp_path):
    """A copy of development.ini listening on a free port, its database in tmp."""
    text = (ROOT / 'development.ini').read_text()
    text = text.replace('listen = 127.0.0.1:6543', 'listen = 127.0.0.1:%(http_port)s')
    ini = tmp_path / 'development.ini'
    ini.write_text(text)
    subprocess.run([sys.executable, '-m', 'sessiondemo.scripts.initialize_db', str(ini)],
                   check=True, capture_output=True)
    return ini


@pytest.mark.parametrize('store', ['memory', 'cookie', 'redis', 'sql'])
def test_pserve_switches_store_from_the_command_line(request, dev_ini, store):
    if store == 'redis':
        # The ini names the Redis to use; point the copy at the test's server.
        url = request.getfixturevalue('redis_server').url
        dev_ini.write_text(dev_ini.read_text().replace(
            'session.redis.url = redis://127.0.0.1:6379/0', f'session.redis.url = {url}'))
    process, port = run_pserve(dev_ini, f'session_store={store}')
    try:
        assert json.loads(wait_for_health(process, port))['store'] == store
        # And it serves sessions: register, then read /api/me with the cookie.
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        base = f'http://127.0.0.1:{port}'
        token = json.load(opener.open(base + '/api/csrf'))['csrf_token']
        opener.open(urllib.request.Request(
            base + '/api/register', method='POST', headers={
                'Content-Type': 'application/json', 'X-CSRF-Token': token},
            data=json.dumps({'username': 'frodo', 'password': 'correct horse'}).encode()))
        me = json.load(opener.open(base + '/api/me'))
        assert me['user']['username'] == 'frodo' and me['session']['store'] == store
    finally:
        process.terminate()
        process.wait(10)


def test_production_ini_refuses_to_start_without_secrets(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith('SESSIONDEMO_')}
    result = subprocess.run(
        [sys.executable, '-m', 'pyramid.scripts.pserve', str(ROOT / 'production.ini')],
        env=dict(env, SESSIONDEMO_DATABASE_URL=f'sqlite:///{tmp_path}/db.sqlite'),
        capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert 'session.secrets' in result.stderr
    assert 'Traceback' not in result.stderr


@pytest.mark.parametrize('secret', ['too-short', 'development-only-secret-do-not-use-in-production'])
def test_production_ini_refuses_short_or_example_secrets(tmp_path, secret):
    result = subprocess.run(
        [sys.executable, '-m', 'pyramid.scripts.pserve', str(ROOT / 'production.ini')],
        env=dict(os.environ, SESSIONDEMO_SECRETS=secret,
                 SESSIONDEMO_DATABASE_URL=f'sqlite:///{tmp_path}/db.sqlite'),
        capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert re.search(r'session\.secrets', result.stderr)
    assert 'Traceback' not in result.stderr
