"""Load generators: locust for the scenarios, wrk for the session tax and the floor.

Locust (FastHttpUser) is the scenario driver, but on a small machine it takes
CPU from the server it measures; the session tax (row 10) and the framework
overhead (row 11, against a bare Pyramid app) are therefore measured with wrk,
whose own CPU use is recorded beside the figure. Every run is bounded
by its duration plus a grace period, and is stopped by its pid if it overstays.
"""
import csv
import os
import re
import statistics
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
WRK_LUA = 'wrk.method = "GET"\nwrk.headers["Cookie"] = "{cookie}"\n'
WRK_CONNECTIONS = 8         # well under waitress's connection_limit: none waits to connect


def wrk_once(url, script, duration, connections, log_path, server_pid):
    """Requests/s of one wrk run, and the CPU wrk and the server used meanwhile."""
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
    if bad and int(bad.group(1)) > 0:
        # A read that answers 401 measures nothing we want: fail loudly.
        raise RuntimeError(f'wrk: {bad.group(1)} of {total} answers to {url} were not 2xx')
    return {'rps': float(match.group(1)), 'requests': total,
            'wrk_cpu_share': (usage.ru_utime + usage.ru_stime) / wall,
            'server_cpu_share': server_cpu / wall}


def write_cookie_script(work_dir, cookie_header=None):
    """A wrk script sending ``cookie_header`` as the Cookie header (none when None)."""
    script = os.path.join(work_dir, 'cookie.lua')
    with open(script, 'w') as lua:
        lua.write(WRK_LUA.format(cookie=cookie_header.replace('"', '\\"')) if cookie_header
                  is not None else 'wrk.method = "GET"\n')
    return script


def wrk_medians(base_url, paths, server_pid, script, repeats, duration, work_dir,
                connections=WRK_CONNECTIONS, tick=None):
    """wrk on each of ``paths`` (``{kind: path}``) in turn, ``repeats`` times
    interleaved so drift hits them alike; the median req/s of each and its runs."""
    log = os.path.join(work_dir, 'wrk.log')
    runs = {kind: [] for kind in paths}
    for repeat in range(repeats):
        for kind, path in paths.items():
            if tick:
                tick(f'wrk {kind} {repeat + 1}/{repeats}')
            runs[kind].append(wrk_once(base_url + path, script, duration, connections, log,
                                       server_pid))
    medians = {kind: statistics.median(run['rps'] for run in kind_runs)
               for kind, kind_runs in runs.items()}
    return medians, runs


def wrk_settings(repeats, duration, connections=WRK_CONNECTIONS):
    return f'wrk (1 thread, {connections} connections, {duration} s x {repeats})'


def session_tax(target, cookie_header, repeats, duration, work_dir, read_path='/api/me',
                public_path='/api/csrf', tick=None):
    """Median requests/s of the authenticated read and of the public endpoint, interleaved.

    ``retained`` is read / public; the session tax is what is lost, 1 - retained,
    as a percentage (lower is better).
    """
    script = write_cookie_script(work_dir, cookie_header)
    rps, runs = wrk_medians(target.base_url, {'public': public_path, 'read': read_path},
                            target.app.pid, script, repeats, duration, work_dir, tick=tick)
    retained = rps['read'] / rps['public']
    return {
        'generator': wrk_settings(repeats, duration),
        'read_path': read_path, 'public_path': public_path,
        'read_rps': rps['read'], 'public_rps': rps['public'],
        'retained': retained, 'tax_percent': 100 * (1 - retained),
        'wrk_cpu_share': statistics.median(r['wrk_cpu_share'] for r in runs['read']),
        'server_cpu_share': statistics.median(r['server_cpu_share'] for r in runs['read']),
        'runs': runs,
    }


def floor(app, path, repeats, duration, work_dir, tick=None):
    """Median requests/s of the bare Pyramid app's one view: row 11's denominator."""
    script = write_cookie_script(work_dir)
    rps, runs = wrk_medians(app.base_url, {'bare': path}, app.pid, script, repeats, duration,
                            work_dir, tick=tick)
    return {'generator': wrk_settings(repeats, duration), 'path': path, 'rps': rps['bare'],
            'wrk_cpu_share': statistics.median(r['wrk_cpu_share'] for r in runs['bare']),
            'server_cpu_share': statistics.median(r['server_cpu_share'] for r in runs['bare']),
            'runs': runs}
