"""Load generators: locust for the scenarios, wrk for the interleaved rounds.

Locust (FastHttpUser) is the scenario driver, but on a small machine it takes
CPU from the server it measures; the session tax (row 10), the framework
overhead (row 11, against a bare Pyramid app) and the writes against the peers
are therefore measured with wrk (benchmarks/rounds.py), whose own CPU use is
recorded beside the figure. Every run is bounded by its duration plus a grace
period, and is stopped by its pid if it overstays.
"""
import csv
import os
import re
import subprocess
import time

import psutil

from .apps import child_env, venv_script

LOCUSTFILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'locustfile.py')
# The locustfile is never imported here: locust monkey-patches the process with gevent.
CLASS_OF = {'reader': 'ReaderUser', 'writer': 'WriterUser', 'churn': 'ChurnUser',
            'anonymous': 'AnonymousUser', 'mix': 'MixUser'}
# The row each scenario is judged by in the report (the others stay in the CSV).
KEY_REQUEST = {'reader': 'reader: GET /api/me', 'writer': 'writer: PATCH /api/session/data',
               'churn': 'churn: cycle (7 requests)', 'anonymous': 'anonymous: all requests',
               'mix': 'mix: all requests'}


class NothingMeasured(RuntimeError):
    """A locust run ended before one key request of a scenario was answered."""


def run_bounded(args, timeout, log_path, env=None, tick=None):
    """Run a generator; ``tick(elapsed)`` is called about twice a second for progress."""
    started = time.monotonic()
    with open(log_path, 'ab') as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            while True:
                try:
                    return process.wait(0.5)
                except subprocess.TimeoutExpired:
                    elapsed = time.monotonic() - started
                    if elapsed > timeout:
                        raise RuntimeError(f'{args[0]} overran {timeout} s; see {log_path}')
                    if tick:
                        tick(elapsed)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def locust(target, scenarios, users, duration, csv_prefix, tick=None):
    """One headless locust run of ``scenarios`` (user classes side by side)."""
    args = [venv_script('locust'), '-f', LOCUSTFILE, '--headless', '--host', target.base_url,
            '-u', str(users * len(scenarios)), '-r', str(users * len(scenarios)),
            '-t', f'{duration}s', '--stop-timeout', '2', '--csv', csv_prefix, '--only-summary',
            '--exit-code-on-error', '0', '--loglevel', 'WARNING',
            *[CLASS_OF[name] for name in scenarios]]
    env = child_env(BENCH_PASSWORD=target.context.password,
                    BENCH_SESSION_COOKIE=target.cookie_name,
                    BENCH_FINAL_CSV=csv_prefix + '_final_stats.csv')
    run_bounded(args, duration + 60, csv_prefix + '.log', env=env, tick=tick)
    return read_locust_csv(csv_prefix + '_final_stats.csv', scenarios)


def read_locust_csv(path, scenarios):
    with open(path, newline='') as stats:
        rows = {row['Name']: row for row in csv.DictReader(stats)}
    figures = {}
    for scenario in scenarios:
        row = rows.get(KEY_REQUEST[scenario])
        if row is None:
            raise NothingMeasured(f'{path}: no {KEY_REQUEST[scenario]!r} row: nothing was '
                                  'measured')
        mine = [r for name, r in rows.items() if name.startswith(scenario + ':')]
        figures[scenario] = {
            'key_request': KEY_REQUEST[scenario],
            'requests': int(row['Request Count']),
            'failures': int(row['Failure Count']),
            'rps': float(row['Requests/s']),
            'p50_ms': float(row['50%']), 'p95_ms': float(row['95%']),
            'p99_ms': float(row['99%']),
            'all_requests_failures': sum(int(r['Failure Count']) for r in mine
                                         if r['Type'] not in ('CYCLE', 'ALL')),
        }
    return figures


# --- wrk ---------------------------------------------------------------------
WRK_CONNECTIONS = 8         # well under waitress's connection_limit: none waits to connect


def wrk_once(url, script, duration, connections, log_path, server_pid, count_refusals=False):
    """Requests/s of one wrk run, its answers that were not 2xx or 3xx, and the
    CPU wrk and the server used meanwhile. Unless ``count_refusals``, one such
    answer is an error (a read answered 401 measures nothing we want); a run
    whose every answer was one is an error either way."""
    server = psutil.Process(server_pid)
    before_server = sum(server.cpu_times()[:2])
    args = ['wrk', '-t', '1', '-c', str(connections), '-d', f'{duration}s', '--latency',
            '-s', script, url]
    out_path = log_path + '.last'
    started = time.monotonic()
    with open(out_path, 'w') as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        # wait4 gives this child's own CPU time, whatever else runs meanwhile.
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    except BaseException:
        process.kill()
        process.wait()
        raise
    wall = time.monotonic() - started
    server_cpu = sum(server.cpu_times()[:2]) - before_server
    with open(out_path) as out:
        output = out.read()
    with open(log_path, 'a') as log:
        log.write(' '.join(args) + '\n' + output + '\n')
    match = re.search(r'Requests/sec:\s+([\d.]+)', output)
    if process.returncode != 0 or not match:
        raise RuntimeError(f'wrk failed: {output[-500:]}')
    total = int(re.search(r'(\d+) requests in', output).group(1))
    bad = re.search(r'Non-2xx or 3xx responses: (\d+)', output)
    refused = int(bad.group(1)) if bad else 0
    if refused and (not count_refusals or refused == total):
        raise RuntimeError(f'wrk: {refused} of {total} answers to {url} were not 2xx')
    return {'rps': float(match.group(1)), 'requests': total, 'non_2xx': refused,
            'wrk_cpu_share': (usage.ru_utime + usage.ru_stime) / wall,
            'server_cpu_share': server_cpu / wall}


def lua_string(value):
    return '"' + value.replace('\\', '\\\\').replace('"', '\\"') + '"'


def write_cookie_script(work_dir, cookie_header=None):
    """A wrk script of GETs sending ``cookie_header`` as the Cookie header (none when None)."""
    script = os.path.join(work_dir, 'cookie.lua')
    lines = ['wrk.method = "GET"']
    if cookie_header is not None:
        lines.append(f'wrk.headers["Cookie"] = {lua_string(cookie_header)}')
    with open(script, 'w') as lua:
        lua.write('\n'.join(lines) + '\n')
    return script


def write_patch_script(work_dir, cookie_header, csrf_token, key='k'):
    """A wrk script of session writes: PATCH with the client's cookies and CSRF
    token, a JSON body ``{key: n}`` whose n changes on every request (one wrk
    thread: one counter), so that every request changes the session."""
    script = os.path.join(work_dir, 'patch.lua')
    with open(script, 'w') as lua:
        lua.write('\n'.join([
            'wrk.method = "PATCH"',
            f'wrk.headers["Cookie"] = {lua_string(cookie_header)}',
            f'wrk.headers["X-CSRF-Token"] = {lua_string(csrf_token)}',
            'wrk.headers["Content-Type"] = "application/json"',
            'local n = 0',
            'function request()',
            '  n = n + 1',
            f'  return wrk.format(nil, nil, nil, \'{{"{key}": \' .. n .. \'}}\')',
            'end', '']))
    return script


def wrk_settings(repeats, duration, slices, connections=WRK_CONNECTIONS):
    return (f'wrk (1 thread, {connections} connections, {repeats} rounds of {slices} '
            f'mirrored {duration} s runs)')
