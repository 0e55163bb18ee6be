"""The benchmark runner's quick mode, end to end, against real servers.

It starts redis-server, PostgreSQL, the app under pserve on every store, the
Pyramid peers and the bare Pyramid app, exactly as ``make bench`` does, only with
tiny durations and counts, and the in-process profile (row 12); then checks that
the report holds every row of shared/spec/benchmarks.md (1 to 12) for every
store and peer, that the charts were drawn, and that the figures that do not
depend on the machine's speed say what each store is known to do. One test
checks the profile's layer accounting on its own, in process, on memory alone.
"""
import io
import json
import os
import statistics
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STORES = ['memory', 'cookie', 'redis', 'sql-sqlite', 'sql-postgresql']
PEERS = ['peer-pyramid-signedcookie', 'peer-pyramid-session-redis']   # quick mode's peers
ROWS = [str(n) for n in range(1, 13)]
CHARTS = ['row1_restart.png', 'row2_size.png', 'row4_throughput.png',
          'row4_read_latency.png', 'row4_round_trips.png', 'row5_second_process.png',
          'row8_cookie_bytes.png', 'row10_session_tax.png', 'row11_framework_overhead.png',
          'row12_layers.png']
REQUESTS = ['public', 'read', 'write']          # row 12's, on every store


@pytest.fixture(scope='module')
def quick_run(tmp_path_factory):
    """One quick benchmark run into a temporary directory; its results.json."""
    out = tmp_path_factory.mktemp('bench') / 'run'
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [REPO, os.environ.get('PYTHONPATH')])))
    result = subprocess.run([sys.executable, '-m', 'benchmarks.run', '--quick',
                             '--out', str(out)], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=420)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert str(out / 'report.md') in result.stderr        # it says where the report is
    with open(out / 'results.json') as figures:
        return out, json.load(figures)


def labels(results, names=STORES):
    return {name: results['targets'][name]['label'] for name in names}


def table(results, row, title_start=None):
    """{label: cells} of one table of a row (the first, or the one whose title starts so)."""
    found = [t for t in results['rows'][row]['tables']
             if title_start is None or (t['title'] or '').startswith(title_start)]
    return {cells[0]: cells[1:] for cells in found[0]['rows']}


class TestReport:
    def test_every_row_has_every_store_in_results_json(self, quick_run):
        _, results = quick_run
        assert sorted(results['rows'], key=int) == ROWS
        for number in ROWS:
            for table in results['rows'][number]['tables']:
                named = {row[0]: row[1:] for row in table['rows']}
                for store, label in labels(results).items():
                    assert label in named, (number, store)
                    cells = ' '.join(named[label])
                    assert 'error' not in cells and 'not measured' not in cells, \
                        (number, store, cells)

    def test_every_row_has_every_store_in_markdown_and_html(self, quick_run):
        out, results = quick_run
        markdown = (out / 'report.md').read_text()
        page = (out / 'report.html').read_text()
        sections = markdown.split('\n## Row ')[1:]
        assert [section.split(':', 1)[0] for section in sections] == ROWS
        for section in sections:
            for label in labels(results).values():
                assert f'| {label} |' in section, (section[:40], label)
        for number in ROWS:
            assert f'<h2>Row {number}:' in page
        assert 'Reproduce with: `make bench-quick`' not in markdown   # --out was given
        assert 'Reproduce with: `python -m benchmarks.run --quick --out' in markdown

    def test_charts_are_pngs_named_in_the_report(self, quick_run):
        out, _ = quick_run
        markdown = (out / 'report.md').read_text()
        for chart in CHARTS:
            assert (out / chart).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n', chart
            assert f']({chart})' in markdown

    def test_raw_locust_csv_is_kept(self, quick_run):
        out, _ = quick_run
        for store in STORES:
            assert list((out / 'locust').glob(f'{store}-*_stats.csv')), store

    def test_machine_versions_and_settings_are_named(self, quick_run):
        _, results = quick_run
        assert results['machine']['cores'] >= 1 and results['machine']['cpu_model']
        assert results['versions']['pyramid'] and results['versions']['locust']
        settings = results['targets']['memory']['settings']
        assert settings['auth.bcrypt_rounds'] == 4
        assert settings['tm.annotate_user'] is False
        assert settings['session.sql.synchronous'] == 'normal'


class TestFiguresThatDoNotDependOnSpeed:
    """What each store does by design, as the probes measured it."""

    def test_restart_wipes_only_the_memory_store(self, quick_run):
        _, results = quick_run
        for store in STORES:
            figures = results['targets'][store]['restart']
            expected = 0 if store == 'memory' else figures['clients']
            assert figures['valid_after_restart'] == expected, store

    def test_a_second_process_shares_every_store_but_memory(self, quick_run):
        _, results = quick_run
        for store in STORES:
            figures = results['targets'][store]['shared']
            expected = 0 if store == 'memory' else figures['clients']
            assert figures['valid_on_second_process'] == expected, store

    def test_purge_empties_the_sql_stores_of_expired_rows(self, quick_run):
        _, results = quick_run
        for store in ('sql-sqlite', 'sql-postgresql'):
            expiry = results['targets'][store]['expiry']
            assert expiry['stale_before_purge'] > 0
            assert expiry['stale_after_purge'] == 0

    def test_redis_loses_sessions_on_flush_and_postgresql_keeps_them_on_restart(
            self, quick_run):
        _, results = quick_run
        redis = results['targets']['redis']['store_reset']
        assert redis['flush_store']['valid_after'] == 0
        assert redis['restart_store']['valid_after'] == 0          # no persistence
        postgres = results['targets']['sql-postgresql']['store_reset']['restart_store']
        assert postgres['valid_after'] == postgres['clients']

    def test_only_the_cookie_store_can_be_forged_and_no_store_takes_a_replay(self, quick_run):
        _, results = quick_run
        for store in STORES:
            forging = results['targets'][store]['forging']
            assert forging['forged_session_for_another_user'] is (store == 'cookie'), store
            # The cookie store's deny list: a logged-out cookie is dead on every store.
            assert forging['replay_after_logout_accepted'] is False, store

    def test_anonymous_requests_create_no_session(self, quick_run):
        _, results = quick_run
        for store in STORES:
            anonymous = results['targets'][store]['anonymous']
            assert anonymous['session_cookies_set'] == 0, store
            assert anonymous['records_created'] in (0, None), store

    def test_session_tax_is_one_minus_read_over_public_as_a_percentage(self, quick_run):
        _, results = quick_run
        for name in STORES + PEERS:
            tax = results['targets'][name]['tax']
            assert tax['generator'].startswith('wrk')
            # The median of the rounds' ratios of the same visit, not a ratio of medians.
            paired = [read['rps'] / public['rps']
                      for read, public in zip(tax['runs']['read'], tax['runs']['public'])]
            assert tax['retained_per_round'] == pytest.approx(paired)
            assert 0 < tax['retained'] == pytest.approx(statistics.median(paired))
            assert tax['tax_percent'] == pytest.approx(100 * (1 - tax['retained']))
        header = results['rows']['10']['tables'][0]['header']
        assert 'session tax (1 − read/public)' in header and 'retained (read/public)' in header
        # "tax" names the percentage only: the one-line summary prints it as such.
        for line in results['tax_summary']:
            assert ' session tax ' in line and '% (retained ' in line, line


class TestFrameworkOverhead:
    """Row 11: every store and peer against a bare Pyramid app, in the same run."""

    def test_the_bare_app_was_measured_in_the_same_rounds_as_the_targets(self, quick_run):
        _, results = quick_run
        floor = results['floor']
        assert floor['generator'] == results['targets']['memory']['tax']['generator']
        assert floor['rps'] > 0
        assert floor['runs']['bare'] == results['rounds']['apps']['bare']['runs']['bare']

    def test_row_11_divides_public_and_read_by_the_bare_app(self, quick_run):
        _, results = quick_run
        bare = results['floor']['rps']
        for name in STORES + PEERS:
            overhead, tax = results['targets'][name]['overhead'], results['targets'][name]['tax']
            assert overhead['public_over_bare'] == pytest.approx(tax['public_rps'] / bare)
            assert overhead['read_over_bare'] == pytest.approx(tax['read_rps'] / bare)
        cells = table(results, '11')
        assert cells['bare Pyramid app (one JSON view)'][:2] == [f'{bare:.0f}', '1.00']
        for label in labels(results, STORES + PEERS).values():
            assert float(cells[label][1]) > 0 and float(cells[label][3]) > 0, label

    def test_row_11_is_in_the_markdown_and_the_page_with_its_chart(self, quick_run):
        out, results = quick_run
        markdown = (out / 'report.md').read_text()
        section = markdown.split('\n## Row 11: ')[1]
        assert '](row11_framework_overhead.png)' in section
        for label in labels(results, STORES + PEERS).values():
            assert f'| {label} |' in section
        page = (out / 'report.html').read_text()
        assert '<h2>Row 11:' in page and 'src="row11_framework_overhead.png"' in page


class TestInterleavedRounds:
    """Rows 10 and 11 and the writes against the peers: every app in the same rounds."""

    def test_every_app_ran_every_request_in_every_round_in_a_rotating_order(self, quick_run):
        _, results = quick_run
        rounds, repeats = results['rounds'], results['run']['settings']['tax_repeats']
        apps = STORES + PEERS + ['bare', 'observe-on', 'observe-off']
        assert len(rounds['orders']) == rounds['rounds'] == repeats >= 2
        for order in rounds['orders']:
            assert sorted(order) == sorted(apps)
        first, second = rounds['orders'][:2]
        assert second == first[1:] + first[:1]         # each round starts one app later
        for name in STORES + PEERS:
            runs = rounds['apps'][name]['runs']
            assert sorted(runs) == ['public', 'read', 'write'], name
            assert all(len(kind) == repeats for kind in runs.values()), name
            # Each round's figure: the mean of two wrk slices (mirrored in the visit).
            for figure in (run for kind in runs.values() for run in kind):
                assert len(figure['slices']) == 2 and min(figure['slices']) > 0, name
                assert figure['rps'] == pytest.approx(statistics.fmean(figure['slices']))
            # Row 10 is made of these very runs; so is the write.
            tax, write = results['targets'][name]['tax'], results['targets'][name]['write']
            assert tax['runs'] == {'public': runs['public'], 'read': runs['read']}, name
            assert write['runs'] == runs['write'] and write['requests'] > 0, name
            assert write['non_2xx'] == sum(run['non_2xx'] for run in runs['write']), name

    def test_the_peers_take_every_write(self, quick_run):
        # A refused write from a peer would be the harness's fault (its CSRF token,
        # its cookies); sessiondemo's refusals are figures the report shows.
        _, results = quick_run
        for name in PEERS:
            assert results['targets'][name]['write']['non_2xx'] == 0, name

    def test_the_table_against_the_peers_has_figures_for_every_target(self, quick_run):
        from benchmarks.rows import AGAINST_PEERS_TITLE
        out, results = quick_run
        section = results['against_peers']
        assert section['title'] == AGAINST_PEERS_TITLE
        cells = {row[0]: row[1:] for row in section['table']['rows']}
        peer_of = {'memory': 'Pyramid SignedCookieSessionFactory',
                   'cookie': 'Pyramid SignedCookieSessionFactory',
                   'redis': 'pyramid_session_redis'}
        for name, label in labels(results, STORES + PEERS).items():
            peer, read, read_ratio, write, write_ratio, own, refused, verdict = cells[label]
            assert float(read) > 0 and float(write) > 0, (label, cells[label])
            assert float(own.split()[0]) > 0, (label, own)
            count, of = refused.split(' of ')
            assert int(count) >= 0 and int(of) > 0, (label, refused)
            if name in peer_of:
                assert peer == peer_of[name], (label, peer)
                assert float(read_ratio.split()[0]) > 0, (label, read_ratio)
                assert float(write_ratio.split()[0]) > 0, (label, write_ratio)
                figures = results['targets'][name]['against_peer']
                peer_figures = results['targets'][figures['peer']]['tax']
                assert figures['read_over_peer_read'] == pytest.approx(
                    results['targets'][name]['tax']['read_rps'] / peer_figures['read_rps'])
            elif name in STORES:
                assert peer == 'no same-kind peer', (label, peer)
            assert verdict.startswith(('met', 'short: ')) if name in STORES else \
                verdict == 'n/a: peer', (label, verdict)
        markdown = (out / 'report.md').read_text()
        table = markdown.split(f'\n## {AGAINST_PEERS_TITLE}\n')[1].split('\n## ')[0]
        assert markdown.index(f'## {AGAINST_PEERS_TITLE}') < markdown.index('## Row 12: ')
        for label in labels(results, STORES + PEERS).values():
            assert f'| {label} |' in table, label
        assert f'<h2>{AGAINST_PEERS_TITLE}</h2>' in (out / 'report.html').read_text()

    def test_the_closing_note_prints_the_ratios(self, quick_run):
        from benchmarks.report import PEER_SUMMARY
        out, results = quick_run
        closing = (out / 'report.md').read_text().split('\n## Closing note: ')[1]
        assert PEER_SUMMARY in closing
        for name, label in labels(results).items():
            line = next(line for line in results['peer_summary']
                        if line.startswith(label + ': '))
            assert f'- {line}' in closing
            assert 'writes refused' in line and '× its own read' in line, line
            if name in ('memory', 'cookie', 'redis'):
                assert 'read ' in line and "'s (asked ≥ " in line, line


class TestPeers:
    """The peers run what they can serve, so writes and logins compare too."""

    def test_peers_run_the_writer_churn_and_mix_scenarios_without_failures(self, quick_run):
        _, results = quick_run
        for peer in PEERS:
            scenarios = results['targets'][peer]['scenarios']
            for scenario in ('reader', 'writer', 'churn', 'mix'):
                assert scenarios[scenario]['requests'] > 0, (peer, scenario)
                assert scenarios[scenario]['failures'] == 0, (peer, scenario)
                assert scenarios[scenario]['all_requests_failures'] == 0, (peer, scenario)

    def test_row_4_shows_the_peers_writes_and_logins(self, quick_run):
        _, results = quick_run
        for title in ('session write', 'login/logout churn'):
            cells = table(results, '4', title)
            for label in labels(results, PEERS).values():
                assert float(cells[label][0]) > 0, (title, label)       # req/s

    def test_every_target_refuses_a_missing_csrf_token_and_a_wrong_password(self, quick_run):
        _, results = quick_run
        for name in STORES + PEERS:
            checks = results['targets'][name]['checks']
            assert checks['login_without_csrf_token'] == 403, name
            assert checks['login_with_wrong_password'] == 401, name


def rounding(layers):
    """How far a total and its layers, each rounded to 0.1 µs, may disagree."""
    return 0.05 * (len(layers) + 1) + 1e-9


class TestWhereTheTimeGoes:
    """Row 12: benchmarks.profile, run by the runner alone, in every part of the report."""

    def test_every_layer_for_every_store_and_the_bare_app_in_results_json(self, quick_run):
        from benchmarks.profile import BARE, LAYERS
        _, results = quick_run
        profile = results['profile']
        assert 'error' not in profile, profile
        assert profile['layers'] == LAYERS
        assert list(profile['targets']) == [BARE] + STORES
        assert list(profile['targets'][BARE]) == ['public']
        for store in STORES:
            assert list(profile['targets'][store]) == REQUESTS, store
        for target, figures in profile['targets'].items():
            for request, figure in figures.items():
                layers = figure['layers']
                assert list(layers) == LAYERS, (target, request)
                assert figure['us'] > 0 and min(layers.values()) >= 0, (target, request)
                assert sum(layers.values()) == pytest.approx(
                    figure['us'], abs=rounding(layers)), (target, request, figure)
        for store in STORES:
            figures = profile['targets'][store]
            assert figures['read']['layers']['session load'] > 0, store
            assert figures['public']['layers']['session load'] == 0, store
        assert 'after every load test had finished' in profile['alone']

    def test_row_12_has_a_line_per_request_with_every_layer(self, quick_run):
        from benchmarks.profile import LAYERS
        _, results = quick_run
        found = results['rows']['12']['tables'][0]
        assert found['header'][:3] == ['target', 'request', 'µs per request']
        assert found['header'][3:] == [f'{layer} µs' for layer in LAYERS]
        lines = {}
        for cells in found['rows']:
            assert len(cells) == len(found['header']), cells
            assert all(cell.isdigit() for cell in cells[2:]), cells
            lines.setdefault(cells[0], []).append(cells[1].split(':')[0])
        assert lines.pop('bare Pyramid app (one JSON view)') == ['GET /bare']
        assert lines == {label: REQUESTS for label in labels(results).values()}

    def test_row_12_is_in_the_markdown_and_the_page_with_its_chart(self, quick_run):
        out, results = quick_run
        markdown = (out / 'report.md').read_text()
        section = markdown.split('\n## Row 12: ')[1]
        assert section.startswith("(ours) where a request's time goes")
        assert '](row12_layers.png)' in section
        for label in labels(results).values():
            assert f'| {label} | public: GET /api/csrf |' in section
            assert f'| {label} | read: GET /api/me |' in section
        assert '| bare Pyramid app (one JSON view) | GET /bare |' in section
        # How it was measured, and that it had the machine to itself.
        assert "Where a request's time goes (row 12): `python -m benchmarks.profile" in markdown
        assert 'it ran alone on the machine' in markdown
        page = (out / 'report.html').read_text()
        assert '<h2>Row 12: (ours) where a request&#x27;s time goes</h2>' in page
        assert 'src="row12_layers.png"' in page and 'it ran alone on the machine' in page


class TestObservabilityCost:
    def test_the_report_shows_the_read_with_and_without_and_the_noise(self, quick_run):
        from benchmarks.observe_cost import CONFIGS, TITLE
        out, results = quick_run
        figures = results['profile']['observability']
        assert set(figures['us']) == {name for name, _ in CONFIGS}
        assert all(value > 0 for value in figures['us'].values())
        assert figures['noise_us'] >= 0 and figures['on_us'] > 0 and figures['off_us'] > 0
        markdown = (out / 'report.md').read_text()
        section = markdown.split(f'\n## {TITLE}')[1].split('\n## ')[0]
        for name, _ in CONFIGS:
            assert f'| observability {name} |' in section
        assert 'the noise:' in section and 'between two apps configured alike' in section
        assert f'<h2>{TITLE}</h2>' in (out / 'report.html').read_text()

    def test_and_under_wrk_from_two_app_processes(self, quick_run):
        out, results = quick_run
        figures = results['observe_http']
        assert set(figures['rps']) == {'on', 'off'}
        assert all(len(runs) == results['run']['settings']['tax_repeats']
                   and min(runs) > 0 for runs in figures['runs'].values())
        assert figures['noise_percent'] >= 0
        markdown = (out / 'report.md').read_text()
        section = markdown.split('Under wrk: ')[1].split('\n## ')[0]
        assert '| observability on |' in section and '| observability off |' in section
        assert "one app's own runs spread" in section

    def test_in_process_figures_from_apps_with_it_on_and_off(self, tmp_path):
        from benchmarks import profile
        from benchmarks.observe_cost import observability_cost, table_rows
        apps = {}

        def make_client(enabled):
            client = profile.logged_in_client(profile.make_app(
                {'session.store': 'memory'}, str(tmp_path),
                **{'observe.enabled': 'true' if enabled else 'false'}))
            apps[client] = enabled
            return client
        figures = observability_cost(make_client, requests=30, rounds=2)
        # The apps really differ: only those with it on serve their metrics
        # (request ids and Server-Timing are on in both).
        for client, enabled in apps.items():
            try:
                client.call('GET', '/metrics')
                served = True
            except RuntimeError:            # the 404 of an app without metrics
                served = False
            assert served == enabled
            names = {name.lower() for name, _ in client.headers}
            assert 'x-request-id' in names and 'server-timing' in names
        assert figures['cost_us'] == pytest.approx(figures['on_us'] - figures['off_us'],
                                                   abs=0.02)
        assert len(table_rows(figures)) == 5


class TestProfileSplit:
    """The profile's layer accounting, in process on the memory store (a few seconds)."""

    def test_layers_add_up_and_only_a_request_that_needs_the_session_loads_it(self):
        from benchmarks import profile
        results = profile.profile(['memory'], requests=30, rounds=2, log=io.StringIO())
        for target in (profile.BARE, 'memory'):
            for request, figure in results['targets'][target].items():
                layers = figure['layers']
                assert list(layers) == profile.LAYERS
                assert min(layers.values()) >= 0, (target, request, layers)
                assert sum(layers.values()) == pytest.approx(
                    figure['us'], abs=rounding(layers)), (target, request, figure)
        memory = results['targets']['memory']
        assert memory['read']['layers']['session load'] > 0, memory
        assert memory['public']['layers']['session load'] == 0, memory
        assert memory['write']['layers']['save'] > 0, memory
        assert memory['write']['layers']['csrf'] > 0, memory
        assert memory['read']['layers']['csrf'] == 0, memory
        bare = results['targets'][profile.BARE]['public']['layers']
        for layer in ('csrf', 'session load', 'identity', 'validation', 'save'):
            assert bare[layer] == 0, layer
        assert bare['request'] > 0 and bare['routing'] > 0 and bare['renderer'] > 0
