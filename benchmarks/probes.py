"""Probes for the rows that are not throughput: each returns plain figures.

Sessions are made the way a client makes them (CSRF token, then a login) and
judged the way a client judges them (does GET /api/me answer 200 with this
Cookie header?). Loops are bounded by counts; waits for expiry are waits for
the clock to pass a known instant, bounded by it.
"""
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

from .client import TIMEOUT, Client

WORKERS = 8
PAYLOAD_CAP = 131072          # the largest payload the search tries (characters)
BROWSER_COOKIE_LIMIT = 4096   # what a browser keeps of one cookie, name and attributes included


def new_username():
    return f'probe-{uuid.uuid4().hex[:16]}'


def make_users(target, count, base_url=None):
    """Usernames that can log in (sessiondemo needs them registered; peers take any)."""
    names = [new_username() for _ in range(count)]
    if target.needs_register:
        client = Client(base_url or target.base_url)
        for name in names:
            client.forget_session(target.cookie_name)
            response = client.register(name, target.context.password)
            if response.status_code != 201:
                raise RuntimeError(f'register on {target.name}: {response.status_code} '
                                   f'{response.text[:200]}')
            client.logout()          # registering logs in: leave no session behind
    return names


LOGIN_RETRIES = 3


def create_sessions(target, count, users, base_url=None, keep=False, retried=None):
    """``count`` logins spread over ``users``; their Cookie headers when ``keep``.

    A login answered 503 (the store did not answer within its timeout: the
    expiry waves of every store start at once on two cores) is tried again as
    its Retry-After asks, at most LOGIN_RETRIES times, waiting at most 1 s; each
    retry is appended to ``retried`` (a list) when given, so a figure can say so."""
    base_url = base_url or target.base_url
    headers, lock = [], threading.Lock()

    def login(client, username):
        for attempt in range(LOGIN_RETRIES + 1):
            response = client.login(username, target.context.password)
            if response.status_code != 503 or attempt == LOGIN_RETRIES:
                return response
            if retried is not None:
                with lock:
                    retried.append(username)
            try:
                wait = float(response.headers.get('Retry-After', 1))
            except ValueError:
                wait = 1.0
            time.sleep(min(max(wait, 0.0), 1.0))      # what a client does with a 503

    def work(indices):
        client = Client(base_url)
        for index in indices:
            client.forget_session(target.cookie_name)
            response = login(client, users[index % len(users)])
            if response.status_code != 200:
                raise RuntimeError(f'login on {target.name}: {response.status_code} '
                                   f'{response.text[:200]}')
            if keep:
                with lock:
                    headers.append(client.cookie_header())

    chunks = [range(start, count, WORKERS) for start in range(WORKERS)]
    with ThreadPoolExecutor(WORKERS) as pool:
        for future in [pool.submit(work, chunk) for chunk in chunks]:
            future.result()
    return headers


def status_with(base_url, cookie_header, path='/api/me', attempts=5):
    """The status of an authenticated read with a copied Cookie header.

    A 503 right after a store restart is the pool meeting dead connections
    (each is dropped once): asked again, a bounded number of times.
    """
    for _ in range(attempts):
        response = requests.get(base_url + path, headers={'Cookie': cookie_header},
                                timeout=TIMEOUT)
        if response.status_code != 503:
            break
    return response


def count_valid(base_url, headers):
    return sum(status_with(base_url, header).status_code == 200 for header in headers)


# Row 1 -----------------------------------------------------------------------
def restart_survival(target, clients):
    users = make_users(target, min(clients, 10))
    headers = create_sessions(target, clients, users, keep=True)
    before = count_valid(target.base_url, headers)
    target.app.restart()
    return {'clients': clients, 'valid_before': before,
            'valid_after_restart': count_valid(target.base_url, headers)}


# Row 2 (size) ------------------------------------------------------------------
RSS_READINGS = 3


def settled_rss(target):
    """The app's RSS after a full collection (where the app allows one), as the
    median of a few readings, and their spread: the noise of this figure."""
    readings = []
    for _ in range(RSS_READINGS):
        target.collect_garbage()
        readings.append(target.rss_bytes())
    return statistics.median(readings), max(readings) - min(readings)


def snapshot(target, app=None):
    return {'store_bytes': target.store_bytes(), 'records': target.records(app)}


def size_per_10k(target, sessions):
    users = make_users(target, max(5, min(50, sessions // 20)))
    create_sessions(target, min(200, sessions), users)      # warm-up: pools, caches, code
    before = dict(snapshot(target), rss=settled_rss(target))
    started = time.monotonic()
    create_sessions(target, sessions, users)
    seconds = time.monotonic() - started
    after = dict(snapshot(target), rss=settled_rss(target))

    def per_10k(key):
        if before[key] is None or after[key] is None:
            return None
        return (after[key] - before[key]) * 10000 / sessions

    # Memory a collector can give back, or that the allocator keeps, moves RSS
    # either way: a growth no larger than the readings' own spread (or none) is
    # reported as not measurable rather than as a figure.
    grown = after['rss'][0] - before['rss'][0]
    noise = max(before['rss'][1], after['rss'][1])
    rss = {'app_rss_per_10k': grown * 10000 / sessions if grown > noise else None,
           'app_rss_growth_bytes': grown, 'app_rss_noise_bytes': noise}
    return {'sessions_created': sessions, 'logins_per_s': sessions / seconds, **rss,
            'store_bytes_per_10k': per_10k('store_bytes'),
            'records_per_10k': per_10k('records'), 'before': before, 'after': after}


# Rows 2 (bounded) and 6 ---------------------------------------------------------
def expiry_waves(target, app, wave, waves=3):
    """Waves of sessions on an app with a 2 s idle timeout; records held after each.

    Each wave is made after the previous one has expired: a store that stays
    bounded holds about one wave; one that keeps expired records holds them all.
    """
    idle = 2.0
    users = make_users(target, 10, app.base_url)
    held, expired_by, retried = [], 0.0, []
    for _ in range(waves):
        create_sessions(target, wave, users, base_url=app.base_url, retried=retried)
        held.append(target.records(app))
        expired_by = time.time() + idle + 0.5
        time.sleep(max(0.0, expired_by - time.time()))    # the clock is the condition
    stale_before = target.records(app)
    purge_output = target.purge(app)
    stale_after = target.records(app)
    return {'wave_size': wave, 'idle_timeout_s': idle, 'records_after_each_wave': held,
            'bounded': held[-1] <= 1.5 * wave, 'stale_before_purge': stale_before,
            'stale_after_purge': stale_after, 'purge_output': purge_output,
            'logins_retried_after_503': len(retried)}


# Row 4 (round trips) --------------------------------------------------------------
def round_trips(target, repeats):
    """Store commands per request, measured around single requests one at a time."""
    if target.round_trips() is None:
        return {kind: {'round_trips': 0.0, 'commands': 0.0, 'by_command': {}} for kind in
                ('read', 'write', 'login', 'logout')}
    user = make_users(target, 1)[0]
    client = Client(target.base_url)
    client.login(user, target.context.password)
    client.me()                                   # warm the pools
    totals = {kind: {} for kind in ('read', 'write', 'login', 'logout')}

    def measured(kind, call):
        before = target.round_trips()
        response = call()
        after = target.round_trips()
        if response.status_code != 200:
            raise RuntimeError(f'{kind} on {target.name}: {response.status_code}')
        for name, calls in after.items():
            delta = calls - before.get(name, 0)
            if delta:
                totals[kind][name] = totals[kind].get(name, 0) + delta

    for index in range(repeats):
        measured('read', client.me)
        measured('write', lambda: client.patch({'n': index}))
        measured('logout', client.logout)
        client.forget_session(target.cookie_name)
        measured('login', lambda: client.login(user, target.context.password))
    return {kind: per_request(target, by, repeats) for kind, by in totals.items()}


def per_request(target, counts, repeats):
    """Redis: commands from the server's INFO commandstats and, for sessiondemo,
    round trips counted in the app (fewer when commands are pipelined); peers'
    round trips are not counted. SQL: statements, each its own round trip
    (autocommit: no BEGIN/COMMIT around them)."""
    counts = dict(counts)
    trips = counts.pop('round trips', None)
    commands = sum(counts.values())
    if trips is None and target.redis is None:
        trips = commands
    return {'round_trips': None if trips is None else trips / repeats,
            'commands': commands / repeats,
            'by_command': {name: calls / repeats for name, calls in sorted(counts.items())}}


# Row 5 ---------------------------------------------------------------------------
def shared_between_processes(target, clients):
    users = make_users(target, min(clients, 10))
    headers = create_sessions(target, clients, users, keep=True)
    twin = target.twin()
    with twin:
        valid = count_valid(twin.base_url, headers)
    return {'clients': clients, 'valid_on_second_process': valid}


# Row 7 ---------------------------------------------------------------------------
def store_reset(target, clients):
    result = {}
    for action in ('restart_store', 'flush_store'):
        users = make_users(target, min(clients, 10))
        headers = create_sessions(target, clients, users, keep=True)
        done = getattr(target, action)()
        if done is None:
            result[action] = None
            continue
        result[action] = {'how': done, 'clients': clients,
                          'valid_after': count_valid(target.base_url, headers)}
    return result


# Row 8 ---------------------------------------------------------------------------
def session_cookie(client, name):
    value = client.cookies().get(name)
    return None if value is None else f'{name}={value}'


def cookie_bytes(target):
    user = make_users(target, 1)[0]
    client = Client(target.base_url)
    client.login(user, target.context.password)
    # Pyramid's SignedCookieSessionFactory re-issues its cookie when a read comes a
    # whole second after the last issue (reissue_time=0 on integer seconds), so the
    # read that is measured comes later than that, as most reads do.
    time.sleep(1.1)
    read = client.me()
    figures = {'cookie_header_bytes': len(client.cookie_header().encode()),
               'session_cookie_bytes': len(session_cookie(client, target.cookie_name).encode()),
               'set_cookie_bytes_on_read': len(read.headers.get('Set-Cookie', '').encode())}
    client.patch({'blob': 'x' * 1024})
    client.me()
    figures['cookie_header_bytes_with_1k_data'] = len(client.cookie_header().encode())
    figures.update(largest_payload(target, user))
    return figures


def largest_payload(target, user):
    """Binary search for the largest string value a PATCH is stored with."""
    client = Client(target.base_url)
    client.login(user, target.context.password)
    fresh = client.cookie_header()

    def attempt(size):
        client.set_cookie_header(fresh)
        client.token = None
        if client.patch({'blob': 'x' * size}).status_code != 200:
            return False, None
        set_cookie = client.last.headers.get('Set-Cookie', '')
        data = client.request('GET', '/api/session/data')
        ok = data.status_code == 200 and len(data.json()['data'].get('blob', '')) == size
        return ok, len(set_cookie.encode())

    def search(fits):
        low, high = 0, PAYLOAD_CAP
        if fits(high):
            return high, True
        while high - low > 1:           # ~17 steps for 128 KiB
            middle = (low + high) // 2
            low, high = (middle, high) if fits(middle) else (low, middle)
        return low, False

    accepted, capped = search(lambda size: attempt(size)[0])
    figures = {'largest_payload_accepted': accepted, 'payload_search_capped': capped,
               'set_cookie_bytes_at_largest': attempt(accepted)[1]}
    if not target.server_side:
        def browser_keeps(size):
            ok, set_cookie = attempt(size)
            return ok and set_cookie <= BROWSER_COOKIE_LIMIT
        figures['largest_payload_a_browser_keeps'] = search(browser_keeps)[0]
    else:
        figures['largest_payload_a_browser_keeps'] = accepted
    return figures


# Row 9 ---------------------------------------------------------------------------
def forging_and_replay(target):
    victim_name = new_username()
    victim = {'username': victim_name, 'id': None}
    client = Client(target.base_url)
    if target.needs_register:
        victim['id'] = client.register(victim_name, target.context.password).json()['user']['id']
    tried = []
    for what, header in target.forgeries(victim):
        response = status_with(target.base_url, header)
        became = response.status_code == 200 and \
            response.json().get('user', {}).get('username') == victim_name
        tried.append({'forgery': what, 'status': response.status_code, 'became_victim': became})
    replayer = Client(target.base_url)
    replayer.login(victim_name, target.context.password)
    copied = replayer.cookie_header()
    logout = replayer.logout()
    replay = status_with(target.base_url, copied)
    return {'forged_session_for_another_user': any(t['became_victim'] for t in tried),
            'forgeries': tried, 'logout_status': logout.status_code,
            'replay_after_logout_status': replay.status_code,
            'replay_after_logout_accepted': replay.status_code == 200}


# The peers' footing: the same checks as sessiondemo's ---------------------------------
def request_checks(target):
    """Does the target refuse an unsafe request without a CSRF token, and a wrong
    password? (The scenarios only show that it accepts the right ones.)"""
    user = make_users(target, 1)[0]
    bare = requests.post(target.base_url + '/api/login', timeout=TIMEOUT,
                         json={'username': user, 'password': target.context.password})
    wrong = Client(target.base_url).login(user, target.context.password + 'x')
    return {'login_without_csrf_token': bare.status_code,
            'login_with_wrong_password': wrong.status_code}


# Row 4 (anonymous scenario's claim, checked exactly) ------------------------------
def anonymous_sessions(target, rounds=30):
    """Public requests without cookies: any session cookie set, any record created?"""
    paths = ['/api/csrf', '/healthz'] + (['/login'] if target.kind == 'store' else [])
    before = target.records()
    given = 0
    for _ in range(rounds):
        for path in paths:
            response = requests.get(target.base_url + path, timeout=TIMEOUT)
            if response.status_code != 200:
                raise RuntimeError(f'{path}: {response.status_code}')
            given += target.cookie_name + '=' in response.headers.get('Set-Cookie', '')
    after = target.records()
    return {'requests': rounds * len(paths), 'paths': paths, 'session_cookies_set': given,
            'records_created': None if before is None else after - before}
