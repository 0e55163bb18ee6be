"""A real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright."""
import pytest
from playwright.sync_api import expect

from .helpers import PASSWORD


@pytest.fixture
def store():
    return 'memory'


@pytest.fixture
def page(browser):
    context = browser.new_context()
    yield context.new_page()
    context.close()


def test_register_see_home_log_out(page, live_server):
    page.goto(live_server + '/')
    expect(page).to_have_url(live_server + '/login?next=/')      # protected: sent to log in
    page.click('text=Register')
    page.fill('#username', 'frodo')
    page.fill('#password', PASSWORD)
    page.click('#submit')
    expect(page).to_have_url(live_server + '/')
    expect(page.locator('#greeting')).to_have_text('Hello, frodo!')
    cookies = {c['name']: c for c in page.context.cookies()}
    assert cookies['sid']['httpOnly'] and cookies['sid']['sameSite'] == 'Lax'
    page.click('#logout')
    expect(page).to_have_url(live_server + '/login')
    page.goto(live_server + '/')
    expect(page).to_have_url(live_server + '/login?next=/')
    assert 'sid' not in {c['name'] for c in page.context.cookies()}


def test_login_with_wrong_password_shows_an_error(page, live_server, make_client):
    make_client().register('frodo')
    page.goto(live_server + '/login')
    page.fill('#username', 'frodo')
    page.fill('#password', 'wrong password')
    page.click('#submit')
    expect(page.locator('[role=alert]')).to_have_text('Unknown username or wrong password.')
    page.fill('#password', PASSWORD)
    page.click('#submit')
    expect(page.locator('#greeting')).to_have_text('Hello, frodo!')


def test_sessions_page_lists_and_revokes(browser, page, live_server, make_client):
    make_client().register('frodo')
    other = browser.new_context(user_agent='Other Browser/1.0')
    other_page = other.new_page()
    for p in (page, other_page):
        p.goto(live_server + '/login')
        p.fill('#username', 'frodo')
        p.fill('#password', PASSWORD)
        p.click('#submit')
        expect(p.locator('#greeting')).to_have_text('Hello, frodo!')
    page.click('#sessions-link')
    expect(page).to_have_url(live_server + '/sessions')
    rows = page.locator('#sessions tbody tr')
    expect(rows).to_have_count(3)       # the registering client's, and the two browsers'
    expect(page.locator('#sessions tr.current')).to_have_count(1)
    expect(page.locator('#sessions')).to_contain_text('Other Browser/1.0')
    page.click('#revoke-others')
    expect(rows).to_have_count(1)
    other_page.goto(live_server + '/')
    expect(other_page).to_have_url(live_server + '/login?next=/')
    other.close()
