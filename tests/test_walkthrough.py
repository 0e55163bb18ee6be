"""The whole tour in a real headless Chromium, checked for accessibility.

register → home → inside your session → sessions (a second browser logged in
as the same user) → end the other session → log out: a screenshot of every
page into the test's directory (printed; ``pytest -s`` shows it), and axe-core
run on every page with no serious or critical violation.

axe-core comes from the npm registry (``npm pack``, which checks the package's
integrity), pinned, once per machine into a cache directory: no manual step,
and never skipped. ``make test`` installs npm with the other Debian packages.
"""
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .helpers import PASSWORD

AXE_VERSION = '4.14.1'
BLOCKING = {'serious', 'critical'}


def axe_cache():
    base = os.environ.get('XDG_CACHE_HOME') or Path.home() / '.cache'
    return Path(base) / 'sessiondemo' / f'axe-core-{AXE_VERSION}'


@pytest.fixture(scope='session')
def axe_script():
    """axe.min.js, fetched with npm on first use and cached by version."""
    script = axe_cache() / 'axe.min.js'
    if not script.exists():
        npm = shutil.which('npm')
        assert npm, 'npm is not installed: `make test` installs Debian\'s npm'
        script.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([npm, 'pack', f'axe-core@{AXE_VERSION}', '--silent'], cwd=tmp,
                           check=True, capture_output=True, timeout=300)
            with tarfile.open(Path(tmp) / f'axe-core-{AXE_VERSION}.tgz') as archive:
                source = archive.extractfile('package/axe.min.js').read()
            partial = script.with_suffix('.partial')
            partial.write_bytes(source)
            partial.replace(script)          # never a half-written cache
    return script.read_text(encoding='utf-8')


@pytest.fixture
def store():
    return 'memory'


class Tour:
    """Screenshots and axe-core checks, page after page."""

    def __init__(self, axe_script, directory):
        self.axe_script = axe_script
        self.directory = directory
        self.shots = []

    def check(self, page, name):
        path = self.directory / f'{len(self.shots) + 1:02d}-{name}.png'
        page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)
        page.add_script_tag(content=self.axe_script)
        results = page.evaluate('async () => await axe.run(document, '
                                '{resultTypes: ["violations"]})')
        blocking = [f'{v["id"]} ({v["impact"]}): {v["help"]} at '
                    + ', '.join(node['target'][0] for node in v['nodes'])
                    for v in results['violations'] if v['impact'] in BLOCKING]
        assert not blocking, f'{name} ({page.url}): ' + '; '.join(blocking)


def log_in(page, base):
    page.goto(base + '/login')
    page.fill('#username', 'frodo')
    page.fill('#password', PASSWORD)
    page.click('#submit')
    expect(page.locator('#greeting')).to_have_text('Hello, frodo!')


def test_the_tour_in_a_browser(browser, live_server, axe_script, tmp_path):
    tour = Tour(axe_script, tmp_path)
    print(f'\nscreenshots: {tmp_path}')
    # bypass_csp: the app's CSP (default-src 'none') rightly refuses the
    # injected axe script; the pages themselves run none.
    context = browser.new_context(bypass_csp=True, viewport={'width': 1000, 'height': 800})
    page = context.new_page()

    page.goto(live_server + '/register')
    tour.check(page, 'register')
    page.fill('#username', 'frodo')
    page.fill('#password', PASSWORD)
    page.click('#submit')
    expect(page.locator('#greeting')).to_have_text('Hello, frodo!')
    tour.check(page, 'home')

    page.click('#inspect-link')
    expect(page).to_have_url(live_server + '/session')
    expect(page.locator('h1')).to_have_text('Inside your session')
    expect(page.locator('#store')).to_have_text('memory')
    sid = {c['name']: c['value'] for c in context.cookies()}['sid']
    assert sid.split('.')[0] not in page.content()
    tour.check(page, 'inside-your-session')

    other_context = browser.new_context(
        bypass_csp=True, user_agent='Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) '
                                    'Gecko/20100101 Firefox/128.0')
    other = other_context.new_page()
    log_in(other, live_server)

    page.goto(live_server + '/')
    page.click('#sessions-link')
    expect(page).to_have_url(live_server + '/sessions')
    rows = page.locator('#sessions tbody tr')
    expect(rows).to_have_count(2)
    expect(page.locator('#sessions')).to_contain_text('Firefox 128.0 on Windows 10')
    tour.check(page, 'sessions')

    page.locator('#sessions tbody tr:not(.current) button.revoke').click()
    expect(page.locator('[role=status]')).to_have_text('Session ended.')
    expect(rows).to_have_count(1)
    tour.check(page, 'session-ended')
    other.goto(live_server + '/')
    expect(other).to_have_url(live_server + '/login?next=/')
    other_context.close()

    page.goto(live_server + '/')
    page.click('#logout')
    expect(page).to_have_url(live_server + '/login')
    tour.check(page, 'logged-out')
    context.close()
    assert [p.exists() for p in tour.shots] == [True] * 6


def test_the_login_page_explains_throttling_accessibly(browser, live_server, axe_script,
                                                        tmp_path, make_client):
    make_client().register('frodo')
    tour = Tour(axe_script, tmp_path)
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(live_server + '/login')
    for _ in range(6):
        page.fill('#username', 'frodo')
        page.fill('#password', 'wrong password')
        page.click('#submit')
    expect(page.locator('#wait')).to_contain_text('Please wait 15 minutes before trying again')
    tour.check(page, 'throttled')
    context.close()
