"""Rows 1 to 12 of shared/spec/benchmarks.md, each turned into a table from results.

Every cell is computed from the run's figures; a figure that does not apply to
a target says why ("n/a: ..."), and a probe that failed shows its error.
"""
CLAIMS = [
    ('1', 'memory: "wiped when the server restarts"',
     'of N logged-in clients, how many are still logged in after an app restart'),
    ('2', 'memory: "causes memory leaks as more and more memory is used"',
     'app RSS and store size per 10,000 live sessions; whether expired sessions are '
     'reclaimed when new ones keep coming. RSS is read after a full garbage collection '
     '(Python\'s gc.collect(), node\'s gc()), the median of three readings before and '
     'after; a growth within the readings\' spread is "not measurable", not a figure'),
    ('3', 'memory: "good for development" / cache: "another server to set up"',
     'what has to run besides the app (listed, not timed)'),
    ('4', 'cache: "quick lookups"; database: "slower than the memory cache", '
          '"chatter between the server and the database"',
     'requests/s and p50/p95/p99 latency (locust) for an authenticated read, a session '
     'write and a login/logout churn; store round trips per request'),
    ('5', 'cache: "decoupled from the server", "a single memory cache can serve many '
          'applications"',
     'two app processes on different ports: is a session made on one valid on the other?'),
    ('6', 'cache: "automatically remove old data"; database: "need to manage/remove old '
          'sessions manually"',
     'expired session records left in the store, before and after `sessiondemo-purge`'),
    ('7', 'cache: "hard to reset the cache without losing all session data"',
     'sessions still valid after the store is restarted / flushed'),
    ('8', 'cookies: "max size around 4KB", "sent in every request, increasing the size of '
          'the request"',
     'bytes of the Cookie header per request; the largest session payload accepted'),
    ('9', 'cookies: "if an attacker gets a hold of the private key..."',
     'with the signing secret known, can a client forge a session for another user? can a '
     'copied cookie be replayed after logout?'),
    ('10', 'session tax',
     '1 − (throughput of the authenticated read GET /api/me ÷ the same server\'s '
     'throughput on a public endpoint that touches no session, GET /api/csrf), as a '
     'percentage: lower is better. Measured with wrk, every target in the same interleaved '
     'rounds, the read and the public endpoint in mirrored slices of each visit; "retained" '
     'is the ratio itself, the median of the rounds\' ratios (in brackets their lowest '
     'and highest), and each req/s the median of the rounds'),
    ('11', '(ours) framework overhead',
     'the public endpoint\'s (GET /api/csrf) and the authenticated read\'s (GET /api/me) '
     'throughput, as measured for row 10, ÷ the throughput of a bare Pyramid app\'s one '
     'JSON view (a constant: no session, no security policy, no CSRF) under the same '
     'waitress settings, measured with the same wrk settings in the same interleaved rounds '
     'as every target (the median of its runs). 1.00 is the floor; the peers are measured '
     'the same way'),
    ('12', '(ours) where a request\'s time goes',
     'µs per request in process, by layer, for the public endpoint (GET /api/csrf), the '
     'authenticated read (GET /api/me) and the session write (PATCH /api/session/data) on '
     'each store, and for the bare Pyramid app\'s one view: the app called as a WSGI '
     'callable (no server, no network), alone on the machine. The total is measured without '
     'a profiler; the layers are each one\'s share of a cProfile run of the same requests, '
     'applied to that total (a guide: the profiler slows small functions more than large '
     'ones). Each layer is the time inside its functions and not inside another layer\'s, '
     'so the layers add up to the total'),
]

NA_PEER = 'n/a: peer'


def mib(value):
    return '—' if value is None else f'{value / 1048576:.2f} MiB'


def frac(valid, total):
    return f'{valid}/{total}'


def problem(figures, key):
    """The cell text when a probe failed or did not run, else None."""
    value = figures.get(key)
    if value is None:
        return 'not measured'
    if isinstance(value, dict) and 'error' in value:
        return f'error: {value["error"][:120]}'
    return None


def cells(figures, key, make, width):
    issue = problem(figures, key)
    return [issue] + [''] * (width - 1) if issue else make(figures[key])


def restart_survival(t):
    return ['clients', 'logged in before', 'after app restart'], cells(
        t, 'restart', lambda r: [r['clients'], frac(r['valid_before'], r['clients']),
                                 frac(r['valid_after_restart'], r['clients'])], 3)


def app_rss(size):
    if size['app_rss_per_10k'] is not None:
        return mib(size['app_rss_per_10k'])
    return (f'not measurable (changed {size["app_rss_growth_bytes"] / 1024:+.0f} KiB, '
            f'readings ±{size["app_rss_noise_bytes"] / 1024:.0f} KiB)')


def size_per_10k_sessions(t):
    head = ['sessions made', 'app RSS per 10k', 'store bytes per 10k',
            'records after waves 1/2/3', 'expired reclaimed without purge']
    size = cells(t, 'size', lambda s: [s['sessions_created'], app_rss(s),
                                       mib(s['store_bytes_per_10k'])], 3)
    if t['kind'] == 'peer':
        return head, size + [NA_PEER, NA_PEER]

    def waves(e):
        held = e['records_after_each_wave']
        reclaimed = max(0, len(held) * e['wave_size'] - held[-1])
        retried = e.get('logins_retried_after_503')
        return [' / '.join(str(h) for h in held) + f' (waves of {e["wave_size"]}'
                + (f'; {retried} logins answered 503 and tried again' if retried else '') + ')',
                'nothing to reclaim' if held[-1] == 0 else
                f'{"yes" if e["bounded"] else "no"} ({reclaimed} reclaimed)']
    return head, size + cells(t, 'expiry', waves, 2)


def what_must_run(t):
    needs = t.get('requirements') or []
    return ['besides the app'], ['; '.join(needs) if needs else 'nothing']


def throughput_and_latency(t, scenario):
    def make(s):
        if scenario not in s:
            return ['n/a: the peer serves no HTML pages' if t['kind'] == 'peer' else 'n/a',
                    '', '', '', '']
        f = s[scenario]
        return [f'{f["rps"]:.0f}', f'{f["p50_ms"]:.0f}', f'{f["p95_ms"]:.0f}',
                f'{f["p99_ms"]:.0f}', f'{f["failures"]}/{f["requests"]}']
    return ['req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'failed'], cells(t, 'scenarios', make, 5)


def round_trips(t):
    def make(r):
        def one(kind):
            figures = r[kind]
            trips = figures['round_trips']
            detail = ', '.join(f'{name} {calls:g}' for name, calls in
                               figures['by_command'].items())
            text = 'not counted' if trips is None else f'{trips:g}'
            return text + (f' ({detail})' if detail else '')
        return [one(kind) for kind in ('read', 'write', 'login', 'logout')]
    return ['read', 'write', 'login', 'logout'], cells(t, 'round_trips', make, 4)


def second_process(t):
    return ['clients', 'valid on a second process'], cells(
        t, 'shared', lambda r: [r['clients'], frac(r['valid_on_second_process'],
                                                   r['clients'])], 2)


def stale_records(t):
    head = ['expired records before purge', 'after purge']
    if t['kind'] == 'peer':
        return head, [NA_PEER, NA_PEER]
    if t['name'] == 'cookie':
        return head, ['n/a: nothing kept on the server', '0']
    return head, cells(t, 'expiry', lambda e: [e['stale_before_purge'],
                                               e['stale_after_purge']], 2)


def store_flush_restart(t):
    def one(reset):
        if reset is None:
            return 'n/a: no store server' if t['name'] not in ('sql-sqlite',) else \
                'n/a: no server (a file)'
        return f'{frac(reset["valid_after"], reset["clients"])} ({reset["how"]})'
    return ['after store restart', 'after store flush'], cells(
        t, 'store_reset', lambda r: [one(r['restart_store']), one(r['flush_store'])], 2)


def cookie_bytes(t):
    def make(c):
        largest = f'{c["largest_payload_accepted"]}' + (' (search cap)' if
                                                        c['payload_search_capped'] else '')
        return [c['cookie_header_bytes'], c['cookie_header_bytes_with_1k_data'],
                c['set_cookie_bytes_on_read'], largest, c['largest_payload_a_browser_keeps']]
    return ['Cookie header bytes', 'with 1 KiB of data', 'Set-Cookie bytes on a read',
            'largest payload accepted (chars)', 'largest a browser keeps'], \
        cells(t, 'cookie', make, 5)


def forging_and_replay(t):
    def make(f):
        return ['yes' if f['forged_session_for_another_user'] else 'no',
                'accepted' if f['replay_after_logout_accepted'] else
                f'rejected ({f["replay_after_logout_status"]})']
    return ['forged a session for another user', 'copied cookie after logout'], \
        cells(t, 'forging', make, 2)


def session_tax(t):
    def make(x):
        return [f'{x["read_rps"]:.0f}', f'{x["public_rps"]:.0f}', f'{x["tax_percent"]:.0f} %',
                ratio(x, 'retained'), f'{x["wrk_cpu_share"] * 100:.0f} %',
                f'{x["server_cpu_share"] * 100:.0f} %']
    return ['read req/s', 'public req/s', 'session tax (1 − read/public)',
            'retained (read/public)', 'wrk CPU', 'server CPU'], cells(t, 'tax', make, 6)


def framework_overhead(t):
    def make(o):
        return [f'{o["public_rps"]:.0f}', f'{o["public_over_bare"]:.2f}',
                f'{o["read_rps"]:.0f}', f'{o["read_over_bare"]:.2f}']
    return ['public req/s', 'public ÷ bare', 'read req/s', 'read ÷ bare'], \
        cells(t, 'overhead', make, 4)


def floor_row(results):
    """The bare app's own line at the top of row 11: the 1.00 every ratio divides by."""
    bare = results.get('floor', {}).get('rps')
    figure = 'not measured' if bare is None else f'{bare:.0f}'
    return ['bare Pyramid app (one JSON view)', figure, '1.00' if bare else '', '', '']


BARE_LABEL = 'bare Pyramid app (one JSON view)'

AGAINST_PEERS_TITLE = 'Against the peers, in the same rounds'
AGAINST_PEERS_MEASURED_AS = (
    'req/s (wrk, the medians of rows 10 and 11\'s interleaved rounds) of the authenticated '
    'read (GET /api/me) and the session write (PATCH /api/session/data, a JSON body '
    '{"k": n} whose n changes on every request, the client\'s CSRF token in X-CSRF-Token, '
    '8 connections writing one session), each sessiondemo store over its same-kind peer '
    '(memory and cookie: Pyramid SignedCookieSessionFactory; redis: pyramid_session_redis; '
    'the SQL stores have none): the quotient of the two apps\' medians; and the write over '
    'the same app\'s read: the median of the rounds\' ratios (the same visit, mirrored '
    'slices, as row 10\'s); in brackets the lowest and highest of each ratio taken round '
    'by round. "Writes refused" counts the answers to the writes that were not 2xx (wrk\'s '
    '"Non-2xx or 3xx responses"). The '
    'last column is what issue 10 asks: read ≥ 1.0 × the peer\'s (memory, cookie), '
    '≥ 1.3 × (redis); write ≥ 1.0 × the peer\'s write and ≥ 0.6 × its own read; no write '
    'refused')


def ratio(figures, key):
    """A ratio, and the range of the same ratio round by round."""
    rounds = figures.get(key + '_per_round') or []
    spread = f' ({min(rounds):.2f}–{max(rounds):.2f})' if len(rounds) > 1 else ''
    return f'{figures[key]:.2f}{spread}'


def against_peer(t):
    """One line of the table: a store against its same-kind peer; a peer's own figures."""
    def make(a):
        if a.get('peer') is None:
            versus = ['no same-kind peer' if t['kind'] == 'store' else NA_PEER, '', '']
        elif 'peer_error' in a:
            versus = [a['peer_label'], f'peer {a["peer_error"][:100]}', '']
        else:
            versus = [a['peer_label'], ratio(a, 'read_over_peer_read'),
                      ratio(a, 'write_over_peer_write')]
        verdict = (NA_PEER if t['kind'] == 'peer' else
                   'met' if not a['short_of'] else 'short: ' + '; '.join(a['short_of']))
        return [versus[0], f'{a["read_rps"]:.0f}', versus[1], f'{a["write_rps"]:.0f}',
                versus[2], ratio(a, 'write_over_own_read'),
                f'{a["write_non_2xx"]} of {a["write_requests"]}', verdict]
    return ['same-kind peer', 'read req/s', 'read ÷ peer read', 'write req/s',
            'write ÷ peer write', 'write ÷ own read', 'writes refused (non-2xx)',
            'issue 10 asks'], cells(t, 'against_peer', make, 8)


def against_peers(results):
    """The table of AGAINST_PEERS_TITLE: a line per target, the stores first."""
    return target_table(results, against_peer)


def where_time_goes(results):
    """Row 12's table from ``results['profile']`` (benchmarks.profile's figures):
    a line per target and request, the bare app first."""
    profile = results.get('profile')
    layers = (profile or {}).get('layers') or []
    header = ['target', 'request', 'µs per request'] + [f'{layer} µs' for layer in layers]
    stores = [(name, f['label']) for name, f in results['targets'].items()
              if f.get('kind') == 'store']
    body = []
    if profile is None or 'error' in profile:
        issue = 'not measured' if profile is None else f'error: {profile["error"][:120]}'
        body = [[label, issue, ''] for _, label in [('bare', BARE_LABEL)] + stores]
        return {'title': None, 'header': header[:3], 'rows': body}
    endpoints = dict(profile['endpoints'], bare=profile['bare_endpoint'])
    for name, label in [('bare', BARE_LABEL)] + stores:
        figures = profile['targets'].get(name)
        if figures is None or 'error' in figures:
            issue = 'not measured' if figures is None else f'error: {figures["error"][:120]}'
            body.append([label, issue, ''] + [''] * len(layers))
            continue
        for request, figure in figures.items():
            what = endpoints['bare'] if name == 'bare' else f'{request}: {endpoints[request]}'
            body.append([label, what, f'{figure["us"]:.0f}']
                        + [f'{figure["layers"][layer]:.0f}' for layer in layers])
    return {'title': None, 'header': header, 'rows': body}


def scenario(name):
    return lambda t: throughput_and_latency(t, name)


# (row number, sub-title or None, cell maker)
TABLES = [('1', None, restart_survival),
          ('2', None, size_per_10k_sessions),
          ('3', None, what_must_run),
          ('4', 'authenticated read (reader: GET /api/me)', scenario('reader')),
          ('4', 'session write (writer: PATCH /api/session/data)', scenario('writer')),
          ('4', 'login/logout churn (one cycle = 7 requests)', scenario('churn')),
          ('4', 'anonymous (public endpoints only)', scenario('anonymous')),
          ('4', 'mix', scenario('mix')),
          ('4', 'store round trips per request, then (in brackets) what was sent: Redis '
                'commands from the server\'s INFO commandstats (a pipeline sends several in '
                'one round trip, and the commands a script runs are counted besides its '
                'EVALSHA; sessiondemo\'s round trips are counted in the app, the peers\' '
                'are not), SQL statements counted by the database (SQLite\'s trace, '
                'PostgreSQL\'s pg_stat_statements)',
           round_trips),
          ('5', None, second_process),
          ('6', None, stale_records),
          ('7', None, store_flush_restart),
          ('8', None, cookie_bytes),
          ('9', None, forging_and_replay),
          ('10', None, session_tax),
          ('11', None, framework_overhead)]


def target_table(results, maker, title=None):
    """A line per target: its label, then what ``maker`` makes of its figures."""
    header, body = None, []
    for name, figures in results['targets'].items():
        head, values = maker(dict(figures, name=name))
        header = ['target'] + head
        body.append([figures['label']] + [str(v) for v in values])
    return {'title': title, 'header': header, 'rows': body}


def build(results):
    """{row: {'claim', 'measured_as', 'tables': [{'title', 'header', 'rows'}]}}."""
    rows = {number: {'claim': claim, 'measured_as': measured, 'tables': []}
            for number, claim, measured in CLAIMS}
    for number, title, maker in TABLES:
        table = target_table(results, maker, title)
        if maker is framework_overhead:
            table['rows'].insert(0, floor_row(results))
        rows[number]['tables'].append(table)
    rows['12']['tables'] = [where_time_goes(results)]
    return rows
