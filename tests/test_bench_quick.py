"""The benchmark runner's quick mode, end to end, against real servers.

It starts redis-server, PostgreSQL, the app under pserve on every store and the
Pyramid peers, exactly as ``make bench`` does, only with tiny durations and
counts; then checks that the report holds every row of shared/spec/benchmarks.md
for every store, that the charts were drawn, and that the figures that do not
depend on the machine's speed say what each store is known to do.
"""
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STORES = ['memory', 'cookie', 'redis', 'sql-sqlite', 'sql-postgresql']
ROWS = [str(n) for n in range(1, 11)]
CHARTS = ['row1_restart.png', 'row2_size.png', 'row4_throughput.png',
          'row4_read_latency.png', 'row4_round_trips.png', 'row5_second_process.png',
          'row8_cookie_bytes.png', 'row10_session_tax.png']


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


def labels(results):
    return {name: results['targets'][name]['label'] for name in STORES}


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

    def test_only_the_cookie_store_can_be_forged_or_replayed(self, quick_run):
        _, results = quick_run
        for store in STORES:
            forging = results['targets'][store]['forging']
            assert forging['forged_session_for_another_user'] is (store == 'cookie'), store
            assert forging['replay_after_logout_accepted'] is (store == 'cookie'), store

    def test_anonymous_requests_create_no_session(self, quick_run):
        _, results = quick_run
        for store in STORES:
            anonymous = results['targets'][store]['anonymous']
            assert anonymous['session_cookies_set'] == 0, store
            assert anonymous['records_created'] in (0, None), store

    def test_session_tax_is_a_ratio_measured_by_wrk(self, quick_run):
        _, results = quick_run
        for store in STORES:
            tax = results['targets'][store]['tax']
            assert tax['generator'].startswith('wrk')
            assert 0 < tax['tax'] == pytest.approx(tax['read_rps'] / tax['public_rps'])
