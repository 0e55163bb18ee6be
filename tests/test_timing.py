"""The request's timing (sessiondemo/timing.py): what each response's
``Server-Timing`` header reports, checked against what the store was asked.

The round trips it lists are the ones that reached a server: none on the
memory store (a dict), one ``GET`` for a Redis read, one ``SELECT`` for a SQL
read, the revocation check's ``SELECT`` for the cookie store.
"""
import re

import pytest

ENTRY = re.compile(r'([a-z-]+);dur=(\d+\.\d{3})(?:;desc="([^"]*)")?')
READ_CALLS = {'memory': 0, 'cookie': 1, 'cookie-encrypted': 1, 'redis': 1,
              'redis-cluster': 1, 'sql-sqlite': 1, 'sql-postgresql': 1}


def server_timing(response):
    entries = {name: (float(ms), desc) for name, ms, desc
               in ENTRY.findall(response.headers['Server-Timing'])}
    assert set(entries) == {'session-load', 'identity', 'session-save', 'store'}
    return entries


def test_a_public_endpoint_spends_nothing_on_the_session(testapp):
    timing = server_timing(testapp.get('/api/csrf'))
    assert timing['session-load'][0] == timing['identity'][0] == 0
    assert timing['session-save'][0] == 0
    assert timing['store'] == (0.0, '0 round trips')


def test_an_authenticated_read_reports_its_load_and_round_trips(testapp, store):
    testapp.register()
    timing = server_timing(testapp.get('/api/me'))
    assert timing['session-load'][0] > 0
    assert timing['identity'][0] > 0
    calls = READ_CALLS[store]
    assert timing['store'][1] == f'{calls} round trip{"" if calls == 1 else "s"}'


@pytest.mark.parametrize('path', ['/api/nope', '/nope', '/'])
def test_error_and_page_responses_carry_it_too(testapp, path):
    response = testapp.get(path, status='*')
    assert response.status_int in (303, 404)
    server_timing(response)


def test_a_write_reports_its_save(testapp, store):
    testapp.register()
    response = testapp.api('PATCH', '/api/session/data', {'name': 'Frodo'})
    timing = server_timing(response)
    assert timing['session-save'][0] > 0
    round_trips = int(timing['store'][1].split()[0])
    if store == 'memory':
        assert round_trips == 0
    elif store.startswith('cookie'):
        assert round_trips == 1         # the revocation check; the write is the cookie
    else:
        assert round_trips >= 2         # the load and the write
