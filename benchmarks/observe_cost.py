"""What watching the app costs (row 13): the authenticated read with and
without its observability, in process, in the same run, with the noise.

What ``observe.enabled`` switches: the Prometheus metrics (an observer of
every request) and the audit trail (request ids and Server-Timing are on in
both, part of every request's cost: rows 10 to 12 measure them). Four apps on
the memory store (no store round trip to drown a few µs in): two with it on,
two with it off, each holding a logged-in client; their rounds interleave
(on, off, on again, off again, repeated), so a slow patch of the machine
falls on all four alike. The noise is what separates two apps configured the
same way: the difference between "on" and "on again", "off" and "off again",
and each one's spread over its rounds. The cost stands out only when it is
larger than that noise.

Called by benchmarks.profile (row 12's process, alone on the machine), which
passes in how it makes a logged-in client.
"""
import statistics

CONFIGS = [('on', True), ('off', False), ('on again', True), ('off again', False)]
# Under wrk (benchmarks/rounds.py, in the rounds of rows 10 and 11): two pserve processes.
HTTP_CONFIGS = [('on', {}), ('off', {'observe.enabled': 'false'})]
ENDPOINT = ('GET', '/api/me')


def observability_cost(make_client, requests, rounds):
    """``make_client(enabled)`` gives a logged-in ``profile.Client`` of an app
    with ``observe.enabled`` set so; figures in µs per request."""
    clients = {name: make_client(enabled) for name, enabled in CONFIGS}
    method, path = ENDPOINT
    for client in clients.values():
        for _ in range(min(200, requests)):
            client.call(method, path)               # warm caches
    per_round = {name: [] for name in clients}
    for _ in range(rounds):
        for name, client in clients.items():
            before = client.app_seconds
            for _ in range(requests):
                client.call(method, path)
            per_round[name].append((client.app_seconds - before) / requests * 1e6)
    median = {name: statistics.median(figures) for name, figures in per_round.items()}
    on = (median['on'] + median['on again']) / 2
    off = (median['off'] + median['off again']) / 2
    noise = max(abs(median['on'] - median['on again']), abs(median['off'] - median['off again']))
    return {
        'endpoint': f'{method} {path}', 'store': 'memory', 'requests_per_round': requests,
        'rounds': rounds,
        'us': {name: round(value, 2) for name, value in median.items()},
        'spread_us': {name: round(max(f) - min(f), 2) for name, f in per_round.items()},
        'on_us': round(on, 2), 'off_us': round(off, 2), 'cost_us': round(on - off, 2),
        'cost_percent': round((on - off) / off * 100, 1),
        'noise_us': round(noise, 2),
        'within_noise': abs(on - off) <= noise,
    }


def http_figures(runs, generator):
    """req/s of the read with observability on and off (``runs``: each app's
    wrk runs, interleaved); the noise is the widest spread of one app's own
    runs, as a percentage of its median."""
    median = {name: statistics.median(r) for name, r in runs.items()}
    cost = (median['off'] - median['on']) / median['off'] * 100
    noise = max((max(r) - min(r)) / statistics.median(r) * 100 for r in runs.values())
    return {'generator': generator, 'runs': runs,
            'rps': {name: round(value, 1) for name, value in median.items()},
            'cost_percent': round(cost, 1), 'noise_percent': round(noise, 1),
            'within_noise': abs(cost) <= noise}


TITLE = 'What watching it costs: the authenticated read with observability on and off'
MEASURED_AS = (
    'µs per authenticated read (GET /api/me, memory store) in process, as row 12, with '
    'observability (Prometheus metrics and the audit trail, `observe.enabled`; request ids '
    'and Server-Timing stay on in both) on and off: two apps of each, their rounds '
    'interleaved, in the same run. The noise is the difference between two apps configured alike; each app\'s spread '
    'is the range of its rounds.')


def table(results):
    """The report's table from ``results['profile']['observability']``."""
    figures = (results.get('profile') or {}).get('observability')
    header = ['app', 'µs per read (median of rounds)', 'spread over rounds (µs)']
    if figures is None or 'error' in figures:
        issue = 'not measured' if figures is None else f'error: {figures["error"][:120]}'
        return {'title': None, 'header': header, 'rows': [['sessiondemo (memory)', issue, '']]}
    return {'title': None, 'header': header, 'rows': table_rows(figures)}


HTTP_MEASURED_AS = (
    'req/s of the authenticated read (GET /api/me, memory store) under wrk, as row 10, '
    'from two app processes, one with observability on and one with it off, measured in '
    'the same interleaved rounds as rows 10 and 11 (benchmarks/rounds.py). The noise is '
    'the widest spread of one app\'s own runs (max − min over its median).')


def http_table(results):
    """The same comparison under wrk, from ``results['observe_http']``."""
    figures = results.get('observe_http')
    header = ['app', 'req/s (median of runs)', 'runs']
    if figures is None or 'error' in figures:
        issue = 'not measured' if figures is None else f'error: {figures["error"][:120]}'
        return {'title': None, 'header': header, 'rows': [['sessiondemo (memory)', issue, '']]}
    rows = [[f'observability {name}', f'{figures["rps"][name]:.0f}',
             ', '.join(f'{r:.0f}' for r in figures['runs'][name])] for name in figures['rps']]
    verdict = 'within' if figures['within_noise'] else 'beyond'
    rows.append(['cost (1 − on/off)', f'{figures["cost_percent"]:+.1f} %',
                 f'{verdict} the noise: one app\'s own runs spread '
                 f'{figures["noise_percent"]:.1f} %'])
    return {'title': None, 'header': header, 'rows': rows}


def table_rows(figures):
    """Each app's median and spread, then the verdict."""
    rows = [[f'observability {name}', f'{figures["us"][name]:.1f}',
             f'{figures["spread_us"][name]:.1f}'] for name, _ in CONFIGS]
    verdict = 'within' if figures['within_noise'] else 'beyond'
    rows.append(['cost (on − off, each the mean of its two apps)',
                 f'{figures["cost_us"]:+.1f} ({figures["cost_percent"]:+.1f} %)',
                 f'{verdict} the noise: {figures["noise_us"]:.1f} µs between two apps '
                 'configured alike'])
    return rows
