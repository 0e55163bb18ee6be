"""``python -m benchmarks.run [--quick] [--duration S] [--users N] [--stores ...] [--peers ...]``

Starts what each store needs, runs every scenario and probe per target, and
writes benchmarks/results/<run>/ (report.md, report.html, PNG charts, the raw
locust CSV, results.json). Row 12 (where a request's time goes) is
``python -m benchmarks.profile``, run in a process of its own once every load
test has finished. Everything it starts it stops, by pid, on the way out,
errors and Ctrl-C included.
"""
import argparse
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import create_engine, text

from realservers import PostgresServer, free_port

from . import load, probes, rounds
from .apps import REPO, WAITRESS, child_env
from .machine import machine, source, versions
from .peers.targets import NODE_DIR, NODE_PEERS, PYRAMID_PEERS, node_available
from .progress import Progress
from .targets import STORE_TARGETS

HERE = os.path.dirname(os.path.abspath(__file__))
QUICK_PARALLEL = 3
STOPPING = threading.Event()
SCENARIOS = ['reader', 'writer', 'churn', 'anonymous', 'mix']
MODES = {
    # duration/users: each locust scenario; sessions: row 2; wave: rows 2 and 6;
    # clients: rows 1, 5, 7; tax: the interleaved wrk rounds (benchmarks.rounds:
    # rows 10, 11, the writes against the peers), how many, and seconds per wrk run
    # (each request runs twice a round, in mirrored slices);
    # profile: row 12's requests per round and rounds per endpoint (benchmarks.profile).
    'full': dict(duration=8, users=10, sessions=2000, wave=400, clients=50,
                 tax_repeats=9, tax_duration=1, roundtrip_repeats=20,
                 profile_requests=500, profile_rounds=5),
    'quick': dict(duration=3, users=1, sessions=60, wave=20, clients=5,
                  tax_repeats=2, tax_duration=1, roundtrip_repeats=3,
                  profile_requests=100, profile_rounds=3),
}


class Context:
    """What targets share: the run's secret and password, and one PostgreSQL."""

    def __init__(self):
        self.secret = secrets.token_urlsafe(36)      # known to the forging probe, by design
        self.password = 'benchmark-' + secrets.token_hex(8)
        self.postgres = None
        self._lock = threading.Lock()

    def postgres_database(self, name):
        with self._lock:
            if self.postgres is None:
                self.postgres = PostgresServer().start()
            engine = create_engine(self.postgres.url, isolation_level='AUTOCOMMIT')
            with engine.connect() as connection:
                if not connection.execute(text('SELECT 1 FROM pg_database WHERE datname = :n'),
                                          {'n': name}).first():
                    connection.execute(text(f'CREATE DATABASE "{name}"'))
            engine.dispose()
        return self.postgres.url.rsplit('/', 1)[0] + '/' + name

    def stop(self):
        if self.postgres is not None:
            self.postgres.stop()


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--quick', action='store_true', help='seconds, for CI: small figures')
    parser.add_argument('--duration', type=int, help='seconds per locust scenario')
    parser.add_argument('--users', type=int, help='locust users per scenario')
    parser.add_argument('--stores', nargs='+', choices=list(STORE_TARGETS),
                        default=list(STORE_TARGETS))
    all_peers = list(PYRAMID_PEERS) + list(NODE_PEERS)
    parser.add_argument('--peers', nargs='*', choices=all_peers,
                        help='default: all (the node ones when node and npm are present; '
                             'in --quick only the Pyramid ones)')
    parser.add_argument('--out', help='results directory (default benchmarks/results/<run>)')
    args = parser.parse_args(argv)
    settings = dict(MODES['quick' if args.quick else 'full'])
    for key in ('duration', 'users'):
        if getattr(args, key):
            settings[key] = getattr(args, key)
    if args.peers is None:
        args.peers = list(PYRAMID_PEERS)
        if node_available() and not args.quick:
            args.peers += list(NODE_PEERS)
    return args, settings


def make_targets(args, run_dir, context):
    classes = [STORE_TARGETS[name] for name in args.stores]
    classes += [{**PYRAMID_PEERS, **NODE_PEERS}[name] for name in args.peers]
    return [cls(run_dir, context) for cls in classes]


def plan_seconds(targets, s, quick):
    """A rough plan for the progress line: load runs exactly, probes estimated."""
    def per_target(target):
        batches = 1 if quick else len(target.scenarios)
        seconds = batches * (s['duration'] + 3)
        return seconds + (s['sessions'] / 250 + 15 if target.kind == 'store' else
                          s['sessions'] / 600)
    stores = sum(1 for t in targets if t.kind == 'store')
    # The rounds: every target's public, read and write, the bare app's one view,
    # the memory store's read with observability on and off; start-ups overlap.
    runs = 3 * len(targets) + 1 + (2 if any(t.name == 'memory' for t in targets) else 0)
    in_rounds = runs * s['tax_repeats'] * rounds.SLICES * (s['tax_duration'] + 0.3) + 3 + runs / 3
    return sum(per_target(t) for t in targets) + 3 * 3 + 10 + in_rounds + \
        profile_seconds(stores, s)


def profile_seconds(stores, s):
    """Row 12's rough duration: ~2 ms a request on average over the stores (SQL's
    writes cost ten times memory's reads), plus start-ups."""
    requests = 3 * s['profile_requests'] * (s['profile_rounds'] + 2.5)
    return 8 + stores * (2 + requests * 0.002)


def guarded(results, key, work):
    """Run one probe; an error is recorded in place of its figures, not fatal to the run."""
    if STOPPING.is_set():
        raise KeyboardInterrupt()
    try:
        results[key] = work()
    except Exception as error:             # noqa: BLE001 - reported, and the run fails at the end
        results[key] = {'error': f'{type(error).__name__}: {error}'}
        traceback.print_exc()


def expiry_phase(targets, s, progress, results):
    """Rows 2 (bounded) and 6 for every sessiondemo store at once: one shared wait."""
    stores = [t for t in targets if t.kind == 'store']
    progress.step('all stores', f'expiry waves ({s["wave"]} sessions, 2 s idle timeout)',
                  3 * (2.5 + s['wave'] / 150))
    apps = {}
    try:
        for target in stores:        # launched together: start-ups overlap
            apps[target.name] = target.make_app(free_port(), 'expiry', **{
                'session.idle_timeout': 2, 'session.touch_interval': 1}).launch()
        for app in apps.values():
            app.wait_ready()
        threads = [threading.Thread(target=guarded, args=(
            results[t.name], 'expiry', lambda t=t: probes.expiry_waves(t, apps[t.name],
                                                                       s['wave'])))
                   for t in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)
                progress.tick()
    finally:
        for app in apps.values():
            app.stop()


def measure_target(target, s, quick, run_dir, progress):
    result = {'label': target.label, 'kind': target.kind}
    csv_dir = os.path.join(run_dir, 'locust')
    os.makedirs(csv_dir, exist_ok=True)
    scenarios = [name for name in SCENARIOS if name in target.scenarios]
    # Quick mode runs the scenarios side by side in one locust (one start-up);
    # the full run gives each scenario the machine to itself.
    batches = [scenarios] if quick else [[name] for name in scenarios]
    result['scenarios'] = {}
    def run_locust(batch, prefix):
        try:
            return load.locust(target, batch, s['users'], s['duration'], prefix,
                               tick=lambda _: progress.tick())
        except load.NothingMeasured:
            if not quick:
                raise
            # A busy machine can spend a quick run's few seconds on start-up and
            # registration alone; once more, longer, before calling it an error.
            return load.locust(target, batch, s['users'], 3 * s['duration'], prefix + '-again',
                               tick=lambda _: progress.tick())

    for batch in batches:
        progress.step(target.label, f'locust {"+".join(batch)}', s['duration'] + 3)
        prefix = os.path.join(csv_dir, f'{target.name}-{"+".join(batch)}')
        guarded(result, 'scenarios_' + '+'.join(batch),
                lambda: result['scenarios'].update(run_locust(batch, prefix)))
    steps = [
        ('anonymous', 'anonymous requests create no session', 2,
         lambda: probes.anonymous_sessions(target)),
        ('checks', 'CSRF and password checks', 1, lambda: probes.request_checks(target)),
        ('round_trips', 'store round trips per request', 3,
         lambda: probes.round_trips(target, s['roundtrip_repeats'])),
        ('cookie', 'cookie bytes and largest payload', 3, lambda: probes.cookie_bytes(target)),
        ('forging', 'forging and replay', 1, lambda: probes.forging_and_replay(target)),
        ('size', f'{s["sessions"]} sessions: memory and store size', s['sessions'] / 250,
         lambda: probes.size_per_10k(target, s['sessions'])),
        ('shared', 'two app processes', 3,
         lambda: probes.shared_between_processes(target, s['clients'])),
        ('restart', 'app restart', 3, lambda: probes.restart_survival(target, s['clients'])),
        ('store_reset', 'store flush and restart', 4,
         lambda: probes.store_reset(target, s['clients'])),
    ]
    for key, title, expected, work in steps:
        progress.step(target.label, title, expected)
        guarded(result, key, work)
    result['requirements'] = target.requirements()
    if target.kind == 'store':
        guarded(result, 'settings', target.settings_report)
    return result


def profile_command(stores, s, json_path=None):
    command = ['-m', 'benchmarks.profile', '--stores', *stores,
               '--requests', str(s['profile_requests']), '--rounds', str(s['profile_rounds'])]
    return command + (['--json', json_path] if json_path else [])


def measure_profile(stores, s, run_dir, progress):
    """Row 12: ``benchmarks.profile`` in a process of its own (a fresh interpreter,
    none of the runner's threads), when no load test is running: it measures in
    process, so it must have the machine to itself. It starts and stops its own
    redis-server and PostgreSQL; stopped by its pid (SIGTERM, which it unwinds
    like Ctrl-C) if the run is interrupted."""
    progress.step('sessiondemo in process', 'where a request\'s time goes (benchmarks.profile)',
                  profile_seconds(len(stores), s))
    directory = os.path.join(run_dir, 'profile')
    os.makedirs(directory, exist_ok=True)
    json_path = os.path.join(directory, 'profile.json')
    log_path = os.path.join(directory, 'profile.log')
    if os.path.exists(json_path):
        os.remove(json_path)               # a reused --out: no figures from an earlier run
    with open(log_path, 'w') as log:
        process = subprocess.Popen([sys.executable, *profile_command(stores, s, json_path)],
                                   cwd=REPO, env=child_env(), stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        while True:
            try:
                process.wait(1.0)
                break
            except subprocess.TimeoutExpired:
                progress.tick()
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(90)           # its servers stop first
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    if not os.path.exists(json_path):
        with open(log_path, errors='replace') as log:
            raise RuntimeError(f'benchmarks.profile exited {process.returncode}: '
                               f'{log.read()[-2000:]}')
    with open(json_path) as figures:
        results = json.load(figures)
    results['command'] = 'python ' + ' '.join(shlex.quote(arg)
                                              for arg in profile_command(stores, s))
    results['alone'] = 'after every load test had finished and every app it served had stopped'
    return results


def reproduce_command(argv):
    if not argv:
        return 'make bench'
    if argv == ['--quick']:
        return 'make bench-quick'
    return 'python -m benchmarks.run ' + ' '.join(shlex.quote(arg) for arg in argv)


def interrupted(signum, frame):
    raise KeyboardInterrupt()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args, s = parse_args(argv)
    run_id = time.strftime('%Y%m%d-%H%M%S') + ('-quick' if args.quick else '')
    run_dir = os.path.abspath(args.out or os.path.join(HERE, 'results', run_id))
    if os.path.exists(os.path.join(run_dir, 'targets')):
        shutil.rmtree(os.path.join(run_dir, 'targets'))     # a reused --out: start clean
    os.makedirs(run_dir, exist_ok=True)
    # SIGTERM becomes KeyboardInterrupt, so the finally below stops what we started.
    signal.signal(signal.SIGTERM, interrupted)
    context = Context()
    targets = make_targets(args, run_dir, context)
    progress = Progress(plan_seconds(targets, s, args.quick) /
                        (QUICK_PARALLEL if args.quick else 1))
    results = {'run': {'id': run_id, 'mode': 'quick' if args.quick else 'full',
                       'command': reproduce_command(argv), 'settings': s,
                       'waitress': WAITRESS,
                       'started': time.strftime('%Y-%m-%d %H:%M:%S %z')},
               'source': source(REPO),
               'machine': dict(machine(), load_average_start=[round(x, 2)
                                                               for x in os.getloadavg()]),
               'versions': versions(NODE_DIR, node=any(t.name in NODE_PEERS for t in targets)),
               'targets': {t.name: {'label': t.label, 'kind': t.kind} for t in targets}}
    try:
        for target in targets:
            progress.step(target.label, 'starting what the store needs', 2)
            target.start_store()
        expiry_phase(targets, s, progress, results['targets'])

        def run_target(target):
            progress.step(target.label, 'starting the app', 2)
            guarded(results['targets'][target.name], 'app', target.start_app)
            if results['targets'][target.name].get('app'):     # an error: nothing to measure
                return
            try:
                results['targets'][target.name].update(
                    measure_target(target, s, args.quick, run_dir, progress))
            finally:
                target.stop_app()
        # The full run measures one target at a time, alone on the machine. Quick
        # mode (figures that only show everything runs) overlaps two to save time.
        pool = ThreadPoolExecutor(QUICK_PARALLEL if args.quick else 1)
        try:
            for future in [pool.submit(run_target, target) for target in targets]:
                future.result()
        except BaseException:
            STOPPING.set()         # workers give up at their next step
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        # Rows 10 and 11 and the writes against the peers: every app at once,
        # measured in the same interleaved rounds (a target whose app could not
        # start has nothing to measure).
        unstarted = [t.name for t in targets if 'error' in (results['targets'][t.name].get('app')
                                                             or {})]
        guarded(results, 'rounds', lambda: rounds.measure(targets, s, run_dir, progress,
                                                          unstarted, STOPPING))
        rounds.derive(results)
        # Row 12 in process, alone: every load test and app process has finished.
        stores = [t.name for t in targets if t.kind == 'store']
        if stores:
            guarded(results, 'profile', lambda: measure_profile(stores, s, run_dir, progress))
    finally:
        for target in targets:
            target.stop()
        context.stop()
    from .report import write_report
    results['run']['finished'] = time.strftime('%Y-%m-%d %H:%M:%S %z')
    results['machine']['load_average_end'] = [round(x, 2) for x in os.getloadavg()]
    paths = write_report(results, run_dir)
    errors = [(name, key) for name, figures in results['targets'].items()
              for key, value in figures.items() if isinstance(value, dict) and 'error' in value]
    errors += [(name, 'error') for name in ('rounds', 'floor', 'observe_http')
               if 'error' in results.get(name, {})]
    profile = results.get('profile', {})
    errors += [('profile', name) for name, value in
               ({'run': profile} if 'error' in profile else profile.get('targets', {})).items()
               if 'error' in value]
    progress.done(f'report: {paths["md"]}\n        html: {paths["html"]}')
    if errors:
        print(f'errors in {len(errors)} figures: {errors}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
