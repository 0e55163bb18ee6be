"""Rows 10 and 11, the writes against the peers and the read with observability
on and off, from one set of interleaved wrk rounds.

The machine's speed drifts by 2-3x over minutes, and by up to 2x from one
second to the next (a CPU loop timed in 0.25 s slices on the benchmark machine
ran 1.6M to 3.4M iterations, with no steal time counted), so a ratio of two
figures taken apart says more about the drift than about the apps. Here every
target's app (a fresh process, one client logged in), the bare Pyramid app and
the memory store's two observability apps run at once, idle until their turn;
each round visits them all, in an order that moves on by one app every round.
A visit runs wrk on each of the app's requests (a target's public endpoint, its
read and its write; the bare app its one view; the observability apps the
read) in mirrored slices, public, read, write, write, read, public: each
request's round figure is the mean of its two slices, whose times average to
the middle of the visit for every request, so a drift linear over the visit
cancels out of the ratios of one app's requests. Those ratios (the session
tax, the write over the app's own read) are the median of the rounds' ratios;
a ratio of two apps (one over its peer, over the bare app) divides the medians
of their rounds, and its per-round ratios show how far the drift moved it.
"""
import os
import statistics
import time

from realservers import free_port

from . import load, observe_cost, probes
from .client import Client
from .peers import bare_pyramid
from .peers.targets import PyramidRedisPeer, SignedCookiePeer, bare_app

PUBLIC, READ, WRITE = '/api/csrf', '/api/me', '/api/session/data'
KINDS = {'public': ('GET', PUBLIC), 'read': ('GET', READ), 'write': ('PATCH', WRITE)}
BARE, OBSERVE = 'bare', 'observe-'
SLICES = 2          # wrk runs of each request in a visit: a mirrored pair (visit)

# Issue 10's acceptance: each store's same-kind peer, and how far ahead its
# read must be (None: no same-kind peer; its write is judged against its read).
SAME_KIND_PEER = {'memory': (SignedCookiePeer, 1.0), 'cookie': (SignedCookiePeer, 1.0),
                  'redis': (PyramidRedisPeer, 1.3)}
WRITE_OVER_PEER_WRITE = 1.0
WRITE_OVER_OWN_READ = 0.6


class Unit:
    """One app in the rounds: what wrk sends it, and its runs so far."""

    def __init__(self, name, label, app, work_dir):
        self.name, self.label, self.app = name, label, app
        self.work_dir = work_dir
        os.makedirs(work_dir, exist_ok=True)
        self.requests = {}           # kind: (path, wrk script, refusals counted)
        self.runs = {}
        self.error = None

    def prepare_target(self, target):
        """Log one client in, as a user would; the read and the write use its cookies,
        the write its CSRF token. One PATCH first: a refused token fails here, clearly."""
        user = probes.make_users(target, 1, base_url=self.app.base_url)[0]
        client = Client(self.app.base_url)
        checked = [('login', client.login(user, target.context.password))]
        client.fetch_token()
        checked.append(('PATCH ' + WRITE, client.patch({'k': 0})))
        for what, response in checked:
            if response.status_code != 200:
                raise RuntimeError(f'{what}: {response.status_code} {response.text[:200]}')
        cookies = client.cookie_header()
        reads = load.write_cookie_script(self.work_dir, cookies)
        self.requests = {'public': (PUBLIC, reads, False), 'read': (READ, reads, False),
                         'write': (WRITE, load.write_patch_script(self.work_dir, cookies,
                                                                  client.token), True)}

    def visit(self, duration, tick=lambda kind: None, shift=0):
        """One round's runs: each request in two slices of ``duration`` s,
        mirrored (A B C C B A), and its round figure the mean of the two. The
        order of the requests starts ``shift`` later (the round's index), so
        that no request is always the first to wake the idle app."""
        kinds = list(self.requests)
        kinds = kinds[shift % len(kinds):] + kinds[:shift % len(kinds)]
        slices = {}
        for kind in kinds + kinds[::-1]:
            tick(kind)
            slices.setdefault(kind, []).append(self.run(kind, duration))
        for kind in kinds:
            self.runs.setdefault(kind, []).append(round_figure(slices[kind]))

    def run(self, kind, duration):
        path, script, count_refusals = self.requests[kind]
        try:
            return load.wrk_once(self.app.base_url + path, script, duration,
                                 load.WRK_CONNECTIONS, os.path.join(self.work_dir, 'wrk.log'),
                                 self.app.pid, count_refusals)
        except Exception as error:
            raise RuntimeError(f'{kind}: {type(error).__name__}: {error}') from error


def round_figure(slices):
    """A request's figure in one round: its slices' mean req/s and CPU shares,
    their requests and refusals summed, each slice's req/s kept."""
    return {'rps': statistics.fmean(run['rps'] for run in slices),
            'requests': sum(run['requests'] for run in slices),
            'non_2xx': sum(run['non_2xx'] for run in slices),
            'wrk_cpu_share': statistics.fmean(run['wrk_cpu_share'] for run in slices),
            'server_cpu_share': statistics.fmean(run['server_cpu_share'] for run in slices),
            'slices': [run['rps'] for run in slices]}


def make_units(targets, run_dir, skip):
    """Every target's app (not the ``skip`` ones: they could not start before),
    the bare app and, with the memory store, its two observability apps; launched
    together so that their start-ups overlap."""
    units = []
    for target in targets:
        if target.name not in skip:
            units.append((target, Unit(target.name, target.label,
                                       target.make_app(free_port(), 'rounds'),
                                       os.path.join(target.dir, 'wrk-rounds'))))
    bare = bare_app(run_dir)
    units.append((None, Unit(BARE, 'bare Pyramid app', bare,
                             os.path.join(os.path.dirname(bare.log_path), 'wrk'))))
    memory = [t for t in targets if t.name == 'memory' and t.name not in skip]
    for name, overrides in observe_cost.HTTP_CONFIGS if memory else []:
        app = memory[0].make_app(free_port(), f'observe-{name}', **overrides)
        units.append((memory[0], Unit(OBSERVE + name, f'memory, observability {name}', app,
                                      os.path.join(memory[0].dir, 'wrk-observe', name))))
    return units


def get_ready(target, unit):
    """Wait for a launched app; then what wrk sends it: the bare app its one view,
    an observability app the read, a target's app its public endpoint, read and write."""
    unit.app.wait_ready()
    if unit.name == BARE:
        unit.requests = {BARE: (unit.app.ready_path, load.write_cookie_script(unit.work_dir),
                                False)}
        return
    unit.prepare_target(target)
    if unit.name.startswith(OBSERVE):
        unit.requests = {'read': unit.requests['read']}


def measure(targets, s, run_dir, progress, skip=(), stopping=None):
    """The rounds: ``s['tax_repeats']`` of them, each two wrk runs (slices) of
    ``s['tax_duration']`` s on every request of every app. Every app is stopped
    by its pid on the way out. Returns the raw runs of each app (or its error)."""
    repeats, duration = s['tax_repeats'], s['tax_duration']
    units = make_units(targets, run_dir, set(skip))
    try:
        progress.step('all targets at once', f'starting {len(units)} apps for the rounds',
                      3 + len(units))
        for _, unit in units:
            unit.app.launch()
        for target, unit in units:
            try:
                get_ready(target, unit)
            except Exception as error:          # noqa: BLE001 - that app's figures say so
                unit.error = f'{type(error).__name__}: {error}'
        ready = [unit for _, unit in units if unit.error is None]
        runs = sum(len(unit.requests) for unit in ready) * repeats * SLICES
        progress.step('all targets at once', f'interleaved wrk rounds ({runs} runs)',
                      runs * (duration + 0.3))
        started, orders = time.monotonic(), []
        for index in range(repeats):
            shift = index % len(ready) if ready else 0
            order = ready[shift:] + ready[:shift]       # each round starts one app later
            orders.append([unit.name for unit in order if unit.error is None])
            for unit in order:
                if unit.error is not None:
                    continue

                def tick(kind, unit=unit, index=index):
                    if stopping is not None and stopping.is_set():
                        raise KeyboardInterrupt()
                    progress.tick(f'round {index + 1}/{repeats}: {unit.label} {kind}')
                try:
                    unit.visit(duration, tick, shift=index)
                except Exception as error:      # noqa: BLE001 - as above
                    unit.error = str(error)
        return {'generator': load.wrk_settings(repeats, duration, SLICES), 'rounds': repeats,
                'orders': orders, 'seconds': round(time.monotonic() - started, 1),
                'apps': {unit.name: {'label': unit.label, 'error': unit.error}
                         if unit.error else {'label': unit.label, 'runs': unit.runs}
                         for _, unit in units}}
    finally:
        for _, unit in units:
            unit.app.stop()


# --- figures from the runs ------------------------------------------------------
def median_rps(runs):
    return statistics.median(run['rps'] for run in runs)


def cpu(runs, key):
    return statistics.median(run[key] for run in runs)


def per_round(above, below):
    """The ratio of two series of runs round by round (the same rounds, in order)."""
    return [a['rps'] / b['rps'] for a, b in zip(above, below)]


def tax(runs, generator):
    """Row 10: the median of the rounds' read over public, of the same app (the
    medians of each are its req/s figures)."""
    public, read = median_rps(runs['public']), median_rps(runs['read'])
    retained = statistics.median(per_round(runs['read'], runs['public']))
    return {'generator': generator, 'read_path': READ, 'public_path': PUBLIC,
            'read_rps': read, 'public_rps': public,
            'retained': retained, 'tax_percent': 100 * (1 - retained),
            'retained_per_round': per_round(runs['read'], runs['public']),
            'wrk_cpu_share': cpu(runs['read'], 'wrk_cpu_share'),
            'server_cpu_share': cpu(runs['read'], 'server_cpu_share'),
            'runs': {'public': runs['public'], 'read': runs['read']}}


def write(runs, generator):
    """The write of the same rounds, and how many of its answers were refusals."""
    return {'generator': generator, 'path': WRITE, 'body': '{"k": <a counter>}',
            'rps': median_rps(runs['write']),
            'requests': sum(run['requests'] for run in runs['write']),
            'non_2xx': sum(run['non_2xx'] for run in runs['write']),
            'wrk_cpu_share': cpu(runs['write'], 'wrk_cpu_share'),
            'server_cpu_share': cpu(runs['write'], 'server_cpu_share'),
            'runs': runs['write']}


def floor(apps, generator):
    """Row 11's denominator: the bare app's median, from the same rounds."""
    bare = apps.get(BARE, {'error': 'not started'})
    if 'error' in bare:
        return {'error': bare['error']}
    runs = bare['runs'][BARE]
    return {'generator': generator, 'path': bare_pyramid.PATH, 'rps': median_rps(runs),
            'wrk_cpu_share': cpu(runs, 'wrk_cpu_share'),
            'server_cpu_share': cpu(runs, 'server_cpu_share'), 'runs': {BARE: runs}}


def overhead(runs, bare_runs, bare):
    """Row 11: the public endpoint's and the read's medians over the bare app's."""
    public, read = median_rps(runs['public']), median_rps(runs['read'])
    return {'bare_rps': bare, 'public_rps': public, 'read_rps': read,
            'public_over_bare': public / bare, 'read_over_bare': read / bare,
            'read_over_bare_per_round': per_round(runs['read'], bare_runs)}


def against_peer(name, runs, apps, store=True):
    """A store's read and write over its same-kind peer's, its write over its own
    read, and what issue 10 asks of each; a peer gets its write over its read."""
    figures = {'read_rps': median_rps(runs['read']), 'write_rps': median_rps(runs['write']),
               'write_non_2xx': sum(run['non_2xx'] for run in runs['write']),
               'write_requests': sum(run['requests'] for run in runs['write'])}
    figures['write_over_own_read_per_round'] = per_round(runs['write'], runs['read'])
    figures['write_over_own_read'] = statistics.median(figures['write_over_own_read_per_round'])
    peer_class, read_asked = SAME_KIND_PEER.get(name, (None, None))
    peer = apps.get(peer_class.name) if peer_class else None
    figures['peer'] = peer_class.name if peer_class else None
    figures['peer_label'] = peer_class.label if peer_class else None
    if peer_class and peer is None:
        figures['peer_error'] = 'not in this run'
    elif peer is not None and 'error' in peer:
        figures['peer_error'] = f'error: {peer["error"]}'
    elif peer is not None:
        theirs = peer['runs']
        figures.update(
            peer_read_rps=median_rps(theirs['read']), peer_write_rps=median_rps(theirs['write']))
        figures.update(
            read_over_peer_read=figures['read_rps'] / figures['peer_read_rps'],
            write_over_peer_write=figures['write_rps'] / figures['peer_write_rps'],
            read_over_peer_read_per_round=per_round(runs['read'], theirs['read']),
            write_over_peer_write_per_round=per_round(runs['write'], theirs['write']))
    asked = {'write_over_own_read': WRITE_OVER_OWN_READ, 'write_non_2xx': 0} if store else {}
    if peer_class:
        asked.update(read_over_peer_read=read_asked, write_over_peer_write=WRITE_OVER_PEER_WRITE)
    figures['asked'] = asked
    figures['short_of'] = short_of(figures, asked)
    return figures


RATIO_NAMES = {'read_over_peer_read': 'read ÷ peer read',
               'write_over_peer_write': 'write ÷ peer write',
               'write_over_own_read': 'write ÷ own read'}


def short_of(figures, asked):
    """What issue 10 asks that these figures miss (an unmeasured ratio misses too)."""
    missed = []
    for key, wanted in asked.items():
        value = figures.get(key)
        if key == 'write_non_2xx':
            if value:
                missed.append(f'{value} writes refused')
        elif value is None:
            missed.append(f'{RATIO_NAMES[key]} not measured')
        elif value < wanted:
            missed.append(f'{RATIO_NAMES[key]} {value:.2f} < {wanted:g}')
    return missed


def derive(results):
    """Rows 10 and 11, the writes, the peer ratios and the read with observability
    on and off, into ``results`` where the report reads them."""
    rounds = results.get('rounds') or {'error': 'not measured'}
    targets = results['targets']
    if 'error' in rounds:
        failed = {'error': f'interleaved rounds: {rounds["error"]}'}
        for figures in targets.values():
            for key in ('tax', 'write', 'overhead', 'against_peer'):
                figures.setdefault(key, failed)
        results['floor'] = failed
        if 'memory' in targets:
            results['observe_http'] = failed
        return
    generator, apps = rounds['generator'], rounds['apps']
    results['floor'] = floor(apps, generator)
    bare = results['floor'].get('rps')
    for name, figures in targets.items():
        app = apps.get(name, {'error': 'not started: see its "app" figure'})
        if 'error' in app:
            for key in ('tax', 'write', 'overhead', 'against_peer'):
                figures[key] = {'error': app['error']}
            continue
        runs = app['runs']
        figures['tax'] = tax(runs, generator)
        figures['write'] = write(runs, generator)
        figures['overhead'] = (overhead(runs, apps[BARE]['runs'][BARE], bare) if bare else
                               {'error': f'bare app: {results["floor"]["error"]}'})
        figures['against_peer'] = against_peer(name, runs, apps, figures['kind'] == 'store')
    observed = {name[len(OBSERVE):]: app for name, app in apps.items()
                if name.startswith(OBSERVE)}
    if observed:
        failed = [f'{name}: {app["error"]}' for name, app in observed.items() if 'error' in app]
        results['observe_http'] = {'error': '; '.join(failed)} if failed else \
            observe_cost.http_figures({name: [run['rps'] for run in app['runs']['read']]
                                       for name, app in observed.items()}, generator)
