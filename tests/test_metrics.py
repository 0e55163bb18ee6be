"""Prometheus metrics at /metrics (metrics.py): parsed with prometheus_client's
own parser, each counter moved by the requests that should move it."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from realservers import RedisServer

from .helpers import SECRET, assert_error

NOT_LOOPBACK = {'REMOTE_ADDR': '203.0.113.7'}


def scrape(client):
    """{(sample name, sorted labels): value} of one GET /metrics."""
    response = client.get('/metrics', status=200)
    assert response.content_type == 'text/plain'
    assert response.headers['Cache-Control'] == 'no-store'
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples}


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples, name, **labels):
    """Summed over the labels not given."""
    return sum(v for (n, ls), v in samples.items()
               if n == name and all(dict(ls).get(k) == w for k, w in labels.items()))


def test_every_counter_moves(app_settings, make_app_client, store):
    app_settings['auth.max_failures'] = '2'
    client = make_app_client(app_settings)
    before = scrape(client)
    client.register('frodo')
    client.get('/api/me', status=200)
    client.logout()
    client.login('frodo', 'not the password', status=401)
    client.login('frodo')
    client.login('frodo', 'not the password', status=401)
    client.login('frodo', 'not the password', status=401)
    client.login('frodo', 'not the password', status=429)
    client.api('POST', '/api/logout', csrf=False, status=403)
    after = scrape(client)

    def moved(name, **labels):
        return total(after, name, **labels) - total(before, name, **labels)

    assert moved('sessiondemo_http_requests_total', route='api_me', method='GET',
                 status='200') == 1
    assert moved('sessiondemo_http_requests_total', route='api_login', status='401') == 3
    assert moved('sessiondemo_http_requests_total', route='api_logout', status='403') == 1
    assert moved('sessiondemo_http_request_duration_seconds_count', route='api_me') == 1
    assert moved('sessiondemo_http_request_duration_seconds_sum', route='api_me') > 0
    assert moved('sessiondemo_logins_total', outcome='success') == 1
    assert moved('sessiondemo_logins_total', outcome='failure') == 3
    assert moved('sessiondemo_logins_total', outcome='throttled') == 1
    assert moved('sessiondemo_throttled_total', action='login') == 1
    assert moved('sessiondemo_csrf_refusals_total') == 1
    if store in ('redis', 'redis-cluster', 'sql-sqlite', 'sql-postgresql'):
        kind = 'redis' if store.startswith('redis') else 'sql'
        # Every request's round trips, as request.timing counted them.
        assert moved('sessiondemo_store_round_trips_total', store=kind, ok='true') >= 8
        assert moved('sessiondemo_store_round_trip_duration_seconds_count', store=kind) >= 8
    if store == 'memory':
        assert value(after, 'sessiondemo_sessions_live', store='memory') == 1


@pytest.mark.parametrize('store', ['redis'])
def test_503s_are_counted(app_settings, make_app_client, tmp_path, audit):
    server = RedisServer(tmp_path / 'redis').start()
    client = make_app_client(dict(app_settings, **{'session.redis.url': server.url}))
    try:
        client.register('frodo')
    finally:
        server.stop()
    before = scrape(client)
    assert_error(client.get('/api/me', expect_errors=True), 503, 'store_unavailable')
    after = scrape(client)
    assert total(after, 'sessiondemo_store_unavailable_total') - \
        total(before, 'sessiondemo_store_unavailable_total') == 1
    assert total(after, 'sessiondemo_store_round_trips_total', ok='false') >= 1
    assert value(after, 'sessiondemo_http_requests_total', route='api_me', method='GET',
                 status='503') == 1
    audit.one('store_unavailable', 'refused', user_id=None, session=None)


@pytest.mark.parametrize('store', ['memory'])
def test_refused_from_another_address_by_default(testapp):
    response = testapp.get('/metrics', extra_environ=NOT_LOOPBACK, expect_errors=True)
    assert response.status_int == 404 and b'sessiondemo_' not in response.body
    # A forwarded-for header is the client's to write: not an address to trust.
    response = testapp.get('/metrics', extra_environ=NOT_LOOPBACK, expect_errors=True,
                           headers={'X-Forwarded-For': '127.0.0.1'})
    assert response.status_int == 404
    assert scrape(testapp)          # loopback (the client's REMOTE_ADDR) may


@pytest.mark.parametrize('header', ['X-Forwarded-For', 'Forwarded', 'X-Real-IP',
                                    'X-Forwarded-Proto'])
def test_refused_through_a_proxy_even_from_loopback(testapp, header):
    """Behind production.ini's proxy every request comes from 127.0.0.1: one
    that a proxy forwarded is not a local scrape."""
    response = testapp.get('/metrics', headers={header: 'for=198.51.100.9'},
                           expect_errors=True)
    assert response.status_int == 404 and b'sessiondemo_' not in response.body


@pytest.mark.parametrize('store', ['memory'])
def test_allow_from_opens_it(app_settings, make_app_client):
    app_settings['metrics.allow_from'] = '10.0.0.0/8 203.0.113.0/24'
    client = make_app_client(app_settings)
    client.get('/metrics', extra_environ=NOT_LOOPBACK, status=200)
    client.get('/metrics', status=404)       # loopback is no longer in the list
    client.get('/metrics', extra_environ={'REMOTE_ADDR': '192.0.2.1'}, status=404)


@pytest.mark.parametrize('store', ['memory'])
def test_unbounded_labels_are_not_made(testapp):
    testapp.get('/no/such/path/12345', status=404)
    testapp.request('/api/me', method='BREW', expect_errors=True)
    samples = scrape(testapp)
    names = {label for (_, labels), _ in samples.items() for _, label in labels}
    assert not any('12345' in name or 'BREW' in name for name in names)
    assert value(samples, 'sessiondemo_http_requests_total', route='', method='GET',
                 status='404') == 1


SERVE = textwrap.dedent('''
    import json, os, sys
    sys.path.insert(0, os.getcwd())
    from tests.helpers import TestApp
    from sessiondemo import main
    app = main({}, **json.loads(sys.argv[1]))
    client = TestApp(app, extra_environ={'HTTP_HOST': 'localhost', 'REMOTE_ADDR': '127.0.0.1'})
    for _ in range(int(sys.argv[2])):
        client.get('/api/csrf')
    if sys.argv[3] == 'scrape':
        print(client.get('/metrics').text)
''')


@pytest.mark.parametrize('store', ['memory'])
def test_several_processes_add_up_in_multiprocess_mode(app_settings, tmp_path):
    """PROMETHEUS_MULTIPROC_DIR: what each process counted, /metrics on any sums."""
    settings = {k: v for k, v in app_settings.items()
                if isinstance(v, str) and k != 'sessiondemo.clock'}
    settings['session.secrets'] = SECRET
    directory = tmp_path / 'prometheus'
    directory.mkdir()
    env = {'PROMETHEUS_MULTIPROC_DIR': str(directory), 'PATH': '/usr/bin:/bin'}

    def run(requests, then):
        done = subprocess.run([sys.executable, '-c', SERVE, json.dumps(settings),
                               str(requests), then], env=env, capture_output=True, text=True,
                              timeout=120, cwd=Path(__file__).parents[1])
        assert done.returncode == 0, done.stderr
        return done.stdout

    run(3, 'exit')
    run(4, 'exit')
    text = run(1, 'scrape')
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert value(samples, 'sessiondemo_http_requests_total', route='api_csrf', method='GET',
                 status='200') == 8
