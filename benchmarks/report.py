"""report.md, report.html and results.json from one run's figures (nothing typed in)."""
import html
import json
import os

from . import charts, observe_cost, rows

SUMMARY = 'Session tax and framework overhead'
PEER_SUMMARY = ('Against the peers, in the same rounds: what issue 10 asks of each store\'s '
                'read and write')


def notes(results):
    """How the figures were taken: read from the run, so they can't drift from it."""
    run, s = results['run'], results['run']['settings']
    waitress, floor = run.get('waitress', {}), results.get('floor', {})
    source = results.get('source') or {'commit': 'unknown', 'uncommitted_changes': []}
    app_settings = next((f['settings'] for f in results['targets'].values()
                         if isinstance(f.get('settings'), dict) and 'error' not in f['settings']),
                        {})
    lines = [
        f'Run `{run["id"]}` ({run["mode"]} mode), {run["started"]} to {run.get("finished")}.',
        f'Reproduce with: `{run["command"]}`, at commit {source["commit"]}'
        + (f' (with uncommitted changes to {", ".join(source["uncommitted_changes"])})'
           if source['uncommitted_changes'] else '') + '.',
        f'Machine: {results["machine"]["cores"]} cores, {results["machine"]["cpu_model"]}, '
        f'{results["machine"]["memory_gib"]} GiB, {results["machine"]["system"]}, '
        f'Python {results["machine"]["python"]}. Load average (1, 5, 15 min) at the start '
        f'{results["machine"]["load_average_start"]}, at the end '
        f'{results["machine"].get("load_average_end")}: anything above 0 is other work '
        'sharing the machine with the run.',
        'Versions: ' + ', '.join(f'{k} {v}' for k, v in results['versions'].items()) + '.',
        'App settings that change figures, read from the running app: '
        + ', '.join(f'`{k} = {v}`' for k, v in app_settings.items())
        + '; waitress ' + ', '.join(f'`{k} = {v}`' for k, v in waitress.items())
        + ' for every app it serves (the Pyramid peers and the bare app too). bcrypt rounds '
          'are lowered from the production 12 to 4 for the benchmarks, so logins (churn, '
          'probes) cost about a millisecond of hashing instead of about a quarter second; the '
          'peers hash at the same rounds.',
        f'Locust: FastHttpUser, closed loop (no wait), {s["users"]} users per scenario, '
        f'{s["duration"]} s per scenario'
        + (', a target\'s scenarios side by side in one locust process (quick mode)'
           if run['mode'] == 'quick' else ', each scenario alone') +
        '. Locust shares the machine with the server, so its req/s are lower than the '
        'server can do; the session tax is therefore measured with wrk.',
        'Rows 10 and 11, the writes against the peers and the read with observability on '
        'and off under wrk: every target\'s app (a fresh process, one client logged in), the '
        'bare Pyramid app and two memory-store apps (observability on, off) ran at once '
        'after every per-target step, idle until their turn, and all targets were measured in '
        f'the same {s["tax_repeats"]} interleaved rounds: each round visited every app in '
        'turn, in an order that starts one app later every round, and ran wrk (1 thread, '
        f'8 connections, {s["tax_duration"]} s a run) twice on each of its requests, in '
        'mirrored slices (public, read, write, write, read, public; the first request '
        'moves on by one every round): a target\'s public endpoint, its read and its write '
        '(PATCH /api/session/data, a new {"k": n} body on every request, the client\'s CSRF '
        'token); the bare app its one view, the observability apps the read'
        + rounds_took(results) +
        '. A request\'s figure in a round is the mean of its two slices, whose times '
        'average to the middle of the visit for every request, so a drift of the machine '
        'linear over the visit cancels out of a ratio of one app\'s requests (here the '
        'speed moves 2-3x over minutes and up to 2x from one second to the next). Each '
        'req/s is the median of its app\'s rounds. Session tax: "retained" is the median '
        'of the rounds\' read ÷ public ratios, of the same server process (so not the '
        'quotient of the two medians printed beside it), and the session tax is '
        '1 − retained, as a percentage (lower is better). The wrk CPU column is wrk\'s own '
        'CPU use over the run (100 % = one core) beside the server\'s. The public endpoint '
        'is GET /api/csrf: GET /healthz pings the store (a Redis PING or a SQL SELECT 1), '
        'so it is not free of the store; /api/csrf reads only its own CSRF cookie and loads '
        'no session. Both are sent the same Cookie header.',
        'Framework overhead (row 11): a bare Pyramid app (one JSON view returning a '
        'constant, benchmarks/peers/bare_pyramid.py) under the same waitress settings, '
        'measured with the same wrk settings in the same rounds; each target\'s public and '
        'read req/s from row 10 are divided by the median of its rounds'
        + (f' ({floor["rps"]:.0f} req/s).' if floor.get('rps') else '.'),
        'The peers run the reader, writer, churn and mix scenarios (not the anonymous one: '
        'it needs the HTML pages). Like sessiondemo they take the same JSON requests, check '
        'a CSRF token from its own cookie in X-CSRF-Token on every unsafe request (the '
        'Pyramid peers with Pyramid\'s CookieCSRFStoragePolicy, express-session by hand), '
        'mint it on GET /api/csrf, hash (register) and verify (login) passwords with bcrypt '
        'at the same rounds, and start a new session on login. Unlike sessiondemo they have '
        'no users database (any username logs in with the benchmark password, checked '
        'against one hash), no revocation or session epoch, no per-user session index, no '
        'request validation and no login throttle: the session holds the username and '
        'GET /api/me returns it. sessiondemo\'s read may also check the user (its session '
        'epoch) in the users database; part of its tax is that check, not the store.',
        f'Rows 1, 5 and 7: {s["clients"]} clients each. Row 2: {s["sessions"]} sessions made '
        'by logging in, the RSS / store growth scaled to 10,000; the expiry waves run on an '
        'app with a 2 s idle timeout. Round trips: the mean over '
        f'{s["roundtrip_repeats"]} requests of each kind, one at a time; reads were not due '
        'a touch (the touch interval adds one round trip at most once per interval).',
        'The benchmark apps are sessiondemo unchanged, served by pserve from a generated '
        'ini with `use = call:benchmarks.instrumented:main`, which adds only the '
        'GET /__bench__/stats path (record counts, SQL statement and Redis round-trip '
        'counters, RSS) and GET /__bench__/gc (a collection before memory readings). '
        'SQLite\'s statements are counted by a trace (a Python callback per statement) that '
        'starts with the round-trip probe, so no app pays it while it serves load.',
    ]
    profile = results.get('profile')
    if isinstance(profile, dict) and 'error' not in profile:
        slowdowns = [f['profiled_us'] / f['us'] for figures in profile['targets'].values()
                     if 'error' not in figures for f in figures.values() if f['us']]
        lines.append(
            f'Where a request\'s time goes (row 12): `{profile["command"]}` (`make profile` '
            f'runs it on its own), run {profile["alone"]}: it ran alone on the machine (no '
            'load test running), in a process of its own with its own redis-server and '
            'PostgreSQL, calling sessiondemo as a WSGI callable (no server, no network; '
            'settings as the benchmark apps\'). '
            f'Each total is the median of {profile["rounds"]} rounds of '
            f'{profile["requests_per_round"]} requests without a profiler; the layers are each '
            f'one\'s share of {profile["requests_per_round"]} more requests under cProfile '
            + (f'(which ran {min(slowdowns):.1f}-{max(slowdowns):.1f}x slower) '
               if slowdowns else '')
            + 'applied to that total. In-process µs leave out waitress, the socket and the '
              'load generator, so 1,000,000 ÷ µs is more than rows 10 and 11 measure. Layers: '
            + '; '.join(f'{layer}: {what}' for layer, what in profile['layer_notes'].items())
            + '.')
    if run['mode'] == 'quick':
        lines.insert(0, '**Quick mode**: a smoke run for CI with tiny durations and counts, '
                        'three targets measured at a time (the wrk rounds one app at a '
                        'time, as always); its figures show that everything runs, not how '
                        'fast.')
    return lines


def rounds_took(results):
    rounds = results.get('rounds') or {}
    return f' ({rounds["seconds"] / 60:.1f} min of rounds)' if 'seconds' in rounds else ''


def peer_summary(results):
    """Issue 10's ratios, a line per sessiondemo store, for the closing note."""
    out = []
    for figures in results['targets'].values():
        a = figures.get('against_peer')
        if figures['kind'] != 'store':
            continue
        if not isinstance(a, dict) or 'error' in a:
            out.append(f'{figures["label"]}: not measured')
            continue
        asked = a['asked']
        if a['peer'] is None:
            line = 'no same-kind peer'
        elif 'peer_error' in a:
            line = f'{a["peer_label"]}: {a["peer_error"][:100]}'
        else:
            line = (f'read {a["read_over_peer_read"]:.2f} × {a["peer_label"]}\'s (asked '
                    f'≥ {asked["read_over_peer_read"]:g}), write '
                    f'{a["write_over_peer_write"]:.2f} × its write (asked '
                    f'≥ {asked["write_over_peer_write"]:g})')
        line += (f'; write {a["write_over_own_read"]:.2f} × its own read (asked '
                 f'≥ {asked["write_over_own_read"]:g}); {a["write_non_2xx"]} of '
                 f'{a["write_requests"]} writes refused; '
                 + ('meets issue 10' if not a['short_of'] else
                    'short of issue 10: ' + '; '.join(a['short_of'])))
        out.append(f'{figures["label"]}: {line}')
    return out


def tax_summary(results):
    out = []
    for name, figures in results['targets'].items():
        tax, overhead = figures.get('tax'), figures.get('overhead')
        if isinstance(tax, dict) and 'error' not in tax:
            rounds = tax.get('retained_per_round') or [tax['retained']]
            line = (f'{figures["label"]}: session tax {tax["tax_percent"]:.0f} % (retained '
                    f'{tax["retained"]:.2f}, the median of {len(rounds)} rounds\' read ÷ public, '
                    f'{min(rounds):.2f}–{max(rounds):.2f}; medians {tax["read_rps"]:.0f} / '
                    f'{tax["public_rps"]:.0f} req/s')
            if isinstance(overhead, dict) and 'error' not in overhead:
                line += (f'; ÷ bare Pyramid: public {overhead["public_over_bare"]:.2f}, '
                         f'read {overhead["read_over_bare"]:.2f}')
            out.append(line + f'; {tax["generator"]}, wrk CPU '
                              f'{tax["wrk_cpu_share"] * 100:.0f} %)')
        else:
            out.append(f'{figures["label"]}: not measured')
    return out


def md_table(table):
    lines = [('**' + table['title'] + '**\n') if table['title'] else '']
    lines.append('| ' + ' | '.join(table['header']) + ' |')
    lines.append('|' + '---|' * len(table['header']))
    lines += ['| ' + ' | '.join(c.replace('|', '\\|') for c in row) + ' |'
              for row in table['rows']]
    return '\n'.join(lines)


def html_table(table):
    e = html.escape
    parts = [f'<h4>{e(table["title"])}</h4>' if table['title'] else '', '<table><tr>']
    parts += [f'<th>{e(h)}</th>' for h in table['header']]
    parts.append('</tr>')
    for row in table['rows']:
        parts.append('<tr>' + ''.join(f'<td>{e(c)}</td>' for c in row) + '</tr>')
    parts.append('</table>')
    return ''.join(parts)


def write_report(results, out_dir):
    results['rows'] = rows.build(results)
    images = charts.draw(results, out_dir)
    results['charts'] = images
    results['against_peers'] = {'title': rows.AGAINST_PEERS_TITLE,
                                'measured_as': rows.AGAINST_PEERS_MEASURED_AS,
                                'table': rows.against_peers(results)}
    results['tax_summary'] = tax_summary(results)
    results['peer_summary'] = peer_summary(results)
    results['notes'] = notes(results)
    md = ['# Session stores: the material\'s claims, measured', '']
    md += [f'- {line}' for line in results['notes']] + ['']
    md += [f'## {SUMMARY}, in one line per target', '']
    md += [f'- {line}' for line in results['tax_summary']] + ['']
    page = ['<!doctype html><meta charset="utf-8"><title>Session stores, measured</title>',
            '<style>body{font-family:sans-serif;max-width:72em;margin:auto}'
            'table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;'
            'padding:3px 6px;font-size:90%}img{max-width:100%}</style>',
            '<h1>Session stores: the material\'s claims, measured</h1><ul>']
    page += [f'<li>{html.escape(line)}</li>' for line in results['notes']]
    page += [f'</ul><h2>{SUMMARY}, in one line per target</h2><ul>']
    page += [f'<li>{html.escape(line)}</li>' for line in results['tax_summary']] + ['</ul>']
    for number, row in results['rows'].items():
        md += [f'## Row {number}: {row["claim"]}', '', f'Measured as: {row["measured_as"]}', '']
        page.append(f'<h2>Row {number}: {html.escape(row["claim"])}</h2>'
                    f'<p>Measured as: {html.escape(row["measured_as"])}</p>')
        for table in row['tables']:
            md += [md_table(table), '']
            page.append(html_table(table))
        for image in images.get(number, []):
            md += [f'![row {number}]({image})', '']
            page.append(f'<p><img src="{image}" alt="row {number}"></p>')
        if number == '11':          # from the same rounds as rows 10 and 11
            section = results['against_peers']
            md += [f'## {section["title"]}', '', f'Measured as: {section["measured_as"]}', '',
                   md_table(section['table']), '']
            page += [f'<h2>{html.escape(section["title"])}</h2>'
                     f'<p>Measured as: {html.escape(section["measured_as"])}</p>',
                     html_table(section['table'])]
    # Not one of the spec's rows (it has no claim to test): issue 13's figure.
    watching = observe_cost.table(results)
    md += [f'## {observe_cost.TITLE}', '', f'Measured as: {observe_cost.MEASURED_AS}', '',
           md_table(watching), '']
    page += [f'<h2>{html.escape(observe_cost.TITLE)}</h2>'
             f'<p>Measured as: {html.escape(observe_cost.MEASURED_AS)}</p>',
             html_table(watching)]
    over_http = observe_cost.http_table(results)
    md += [f'Under wrk: {observe_cost.HTTP_MEASURED_AS}', '', md_table(over_http), '']
    page += [f'<p>Under wrk: {html.escape(observe_cost.HTTP_MEASURED_AS)}</p>',
             html_table(over_http)]
    md += [f'## Closing note: {SUMMARY.lower()} of every store and peer', '']
    md += [f'- {line}' for line in results['tax_summary']] + ['']
    md += [f'{PEER_SUMMARY}:', ''] + [f'- {line}' for line in results['peer_summary']] + ['']
    page += [f'<h2>Closing note: {SUMMARY.lower()} of every store and peer</h2><ul>']
    page += [f'<li>{html.escape(line)}</li>' for line in results['tax_summary']] + ['</ul>']
    page += [f'<p>{html.escape(PEER_SUMMARY)}:</p><ul>']
    page += [f'<li>{html.escape(line)}</li>' for line in results['peer_summary']] + ['</ul>']
    md += ['Raw locust CSV: `locust/`; every figure: `results.json`.', '']
    page.append('<p>Raw locust CSV: <code>locust/</code>; every figure: '
                '<code>results.json</code>.</p>')
    paths = {'md': os.path.join(out_dir, 'report.md'),
             'html': os.path.join(out_dir, 'report.html'),
             'json': os.path.join(out_dir, 'results.json')}
    with open(paths['md'], 'w') as out:
        out.write('\n'.join(md))
    with open(paths['html'], 'w') as out:
        out.write('\n'.join(page))
    with open(paths['json'], 'w') as out:
        json.dump(results, out, indent=2, default=str)
    return paths
