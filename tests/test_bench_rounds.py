"""The interleaved rounds' design (benchmarks/rounds.py), on a machine whose
speed drifts: one app's ratios must not move with the drift.

wrk is replaced by a model of a server (the one thing not real here: these
tests are about the arithmetic of the visit, not about a server); the quick
benchmark run (test_bench_quick.py) runs the same code against real apps.
"""
import statistics

import pytest

from benchmarks import load, rounds

# True req/s of each request on a machine at full speed.
RATES = {'/api/csrf': 1000.0, '/api/me': 800.0, '/api/session/data': 600.0}


class DriftingMachine:
    """A wrk that reports each path's rate times the machine's speed, which
    falls by ``step`` for every run: a drift linear in time."""

    def __init__(self, step):
        self.step, self.speed, self.paths = step, 1.0, []

    def __call__(self, url, script, duration, connections, log_path, pid, count_refusals):
        path = url[len('http://127.0.0.1:1'):]
        self.paths.append(path)
        rps = RATES[path] * self.speed
        self.speed -= self.step
        return {'rps': rps, 'requests': int(rps * duration), 'non_2xx': 0,
                'wrk_cpu_share': 0.1, 'server_cpu_share': 1.0}


class App:
    base_url, pid = 'http://127.0.0.1:1', 0


@pytest.fixture
def unit(tmp_path):
    made = rounds.Unit('memory', 'memory', App(), str(tmp_path))
    made.requests = {kind: (path, 'script.lua', kind == 'write')
                     for kind, (_, path) in rounds.KINDS.items()}
    return made


def test_a_drift_linear_over_the_visit_cancels_out_of_the_apps_own_ratios(unit, monkeypatch):
    machine = DriftingMachine(step=0.08)         # 40 % slower by the end of a visit
    monkeypatch.setattr(load, 'wrk_once', machine)
    for index in range(3):
        unit.visit(1, shift=index)
    tax = rounds.tax(unit.runs, 'wrk')
    assert tax['retained_per_round'] == pytest.approx([0.8] * 3)
    assert tax['tax_percent'] == pytest.approx(20.0)
    figures = rounds.against_peer('sql', unit.runs, {}, store=True)
    assert figures['write_over_own_read'] == pytest.approx(0.75)


def test_each_request_runs_twice_a_visit_in_mirrored_order_starting_one_later_each_round(
        unit, monkeypatch):
    machine = DriftingMachine(step=0.0)
    monkeypatch.setattr(load, 'wrk_once', machine)
    unit.visit(1, shift=0)
    unit.visit(1, shift=1)
    public, read, write = rounds.PUBLIC, rounds.READ, rounds.WRITE
    assert machine.paths == [public, read, write, write, read, public,
                             read, write, public, public, write, read]
    for kind, runs in unit.runs.items():
        assert len(runs) == 2 and all(len(run['slices']) == 2 for run in runs), kind
        assert runs[0]['requests'] == 2 * int(RATES[unit.requests[kind][0]])


def test_the_median_of_the_rounds_ratios_is_the_tax_not_the_ratio_of_medians():
    # Rounds on a machine whose speed moved between rounds: the read of round 3
    # and the public endpoint of round 1 are the medians, but not of one round.
    def runs(*rates):
        return [{'rps': rate, 'requests': 1, 'non_2xx': 0, 'wrk_cpu_share': 0.1,
                 'server_cpu_share': 1.0} for rate in rates]
    tax = rounds.tax({'public': runs(1000, 2000, 1500), 'read': runs(900, 1800, 1200)}, 'wrk')
    assert tax['retained_per_round'] == pytest.approx([0.9, 0.9, 0.8])
    assert tax['retained'] == pytest.approx(0.9)
    assert (tax['read_rps'], tax['public_rps']) == (1200, 1500)
    assert statistics.median([900, 1800, 1200]) / 1500 != pytest.approx(tax['retained'])


# The harness's logins: a store that timed out is asked again, and it says so.
class FlakyLogins:
    """An HTTP server whose first ``failures`` logins answer 503 (Retry-After: 0)."""

    def __init__(self, failures):
        import http.server
        import threading
        lock, state = threading.Lock(), {'failures': failures, 'logins': 0}
        self.state = state

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, status, body, headers=()):
                data = body.encode()
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self.answer(200, '{"csrf_token": "t"}')

            def do_POST(self):
                self.rfile.read(int(self.headers['Content-Length']))
                with lock:
                    state['logins'] += 1
                    failing = state['failures'] > 0
                    state['failures'] -= failing
                if failing:
                    self.answer(503, '{"error": {"code": "store_unavailable"}}',
                                [('Retry-After', '0')])
                else:
                    self.answer(200, '{}', [('Set-Cookie', 'session=x; Path=/')])

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.base_url = f'http://127.0.0.1:{self.server.server_port}'

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class Target:
    name, cookie_name = 'flaky', 'session'

    class context:
        password = 'pw'


def test_a_login_answered_503_is_tried_again_and_counted():
    from benchmarks import probes
    retried = []
    with FlakyLogins(failures=2) as server:
        probes.create_sessions(Target, 4, ['a', 'b'], base_url=server.base_url, retried=retried)
    assert len(retried) == 2 and server.state['logins'] == 6


def test_a_store_that_stays_down_is_an_error_after_the_retries():
    from benchmarks import probes
    with FlakyLogins(failures=100) as server:
        with pytest.raises(RuntimeError, match='login on flaky: 503'):
            probes.create_sessions(Target, 1, ['a'], base_url=server.base_url)
    assert server.state['logins'] == probes.LOGIN_RETRIES + 1
