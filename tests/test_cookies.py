"""The Set-Cookie headers we write ourselves (sessions/cookies.py): what
WebOb's ``make_cookie`` sent, read back the same by a cookie parser, with the
name, the value and every attribute checked."""
import email.utils
import http.cookies
import time

import pytest

from sessiondemo.config import CookieSettings, SettingsError, read
from sessiondemo.sessions.cookies import SessionCookie, SetCookie, http_date


def parsed(header):
    """(name, value, {attribute: value}) as a user agent's parser reads it."""
    jar = http.cookies.SimpleCookie()
    jar.load(header)
    (name, morsel), = jar.items()
    return name, morsel.value, {key: morsel[key] for key in morsel if morsel[key]}


def test_a_session_cookie_with_every_flag():
    header = SetCookie('__Host-sid', secure=True)('abc.DEF-_9', 3600)
    name, value, attributes = parsed(header)
    assert (name, value) == ('__Host-sid', 'abc.DEF-_9')
    expires = attributes.pop('expires')
    assert attributes == {'max-age': '3600', 'path': '/', 'secure': True, 'httponly': True,
                          'samesite': 'Lax'}
    assert abs(email.utils.parsedate_to_datetime(expires).timestamp()
               - (time.time() + 3600)) < 5
    assert header.endswith('; Path=/; Expires=' + expires + '; Secure; HttpOnly; SameSite=Lax')


def test_flags_off_and_samesite_strict():
    header = SetCookie('sid', path='/app', secure=False, httponly=False,
                       samesite='Strict')('v', 60)
    _, _, attributes = parsed(header)
    assert 'secure' not in attributes and 'httponly' not in attributes
    assert attributes['path'] == '/app' and attributes['samesite'] == 'Strict'


def test_a_deletion_expires_at_once_and_a_browser_session_cookie_has_no_expiry():
    _, value, attributes = parsed(SetCookie('sid')('', 0))
    assert value == '' and attributes['max-age'] == '0'
    assert email.utils.parsedate_to_datetime(attributes['expires']).timestamp() == 0
    _, _, attributes = parsed(SetCookie('csrf')('nonce'))
    assert 'max-age' not in attributes and 'expires' not in attributes
    assert parsed(SetCookie('sid')('v', -5))[2]['max-age'] == '0'


def test_expires_is_an_imf_fixdate_whatever_the_date():
    """Checked against the standard library's own formatter (which no locale
    changes), on days of every week day and month, a leap day and the epoch."""
    for seconds in [0, 951782400, 1709164800] + list(range(1_700_000_000, 1_740_000_000,
                                                          86400 * 13 + 3607)):
        assert http_date(seconds) == email.utils.formatdate(seconds, usegmt=True)


def test_expires_is_capped_where_browsers_cap_it():
    _, _, attributes = parsed(SetCookie('sid')('v', 10 ** 12))
    assert attributes['max-age'] == str(10 ** 12)
    expires = email.utils.parsedate_to_datetime(attributes['expires']).timestamp()
    assert abs(expires - (time.time() + 400 * 86400)) < 5


@pytest.mark.parametrize('value', ['a b', 'a;b', 'a,b', 'a"b', 'a\\b', 'a\x7fb', 'a\x00b',
                                   'é', 'a\tb', 'a\nSet-Cookie: x=y'])
def test_a_value_that_is_not_cookie_octets_is_refused(value):
    with pytest.raises(ValueError):
        SetCookie('sid')(value, 60)
    with pytest.raises(ValueError):
        SetCookie('sid')(value)


def test_every_cookie_octet_is_sent_as_it_is():
    octets = ''.join(chr(c) for c in range(0x21, 0x7f) if chr(c) not in '",;\\')
    assert SetCookie('sid')(octets).startswith(f'sid={octets}; Path=/')


@pytest.mark.parametrize('kwargs', [dict(name='bad name'), dict(name='a;b'), dict(name=''),
                                    dict(name='sid', path='/a;b'), dict(name='sid', path='a'),
                                    dict(name='sid', path='/a\r\nb'),
                                    dict(name='sid', samesite='lax'),
                                    dict(name='sid', samesite='None')])
def test_a_name_path_or_samesite_we_could_not_send_fails_at_start_up(kwargs):
    with pytest.raises(ValueError):
        SetCookie(**kwargs)
    assert SetCookie('sid', secure=True, samesite='None')('v').endswith('; Secure; HttpOnly; '
                                                                        'SameSite=None')


def test_a_cookie_name_that_is_not_a_token_is_a_settings_error():
    with pytest.raises(SettingsError, match='session.cookie_name'):
        read({'session.secrets': 'x' * 40, 'session.cookie_name': 'my sid'})


def test_the_session_cookie_is_added_and_deleted_with_its_flags():
    class Response:
        headerlist = []
    cookie = SessionCookie(CookieSettings(name='sid', secure=True))
    cookie.set(Response, 'id.sig', 99.7)
    cookie.delete(Response)
    (_, set_), (_, deleted) = Response.headerlist
    assert parsed(set_)[:2] == ('sid', 'id.sig') and parsed(set_)[2]['max-age'] == '99'
    assert parsed(deleted)[2]['max-age'] == '0' and parsed(deleted)[2]['secure']
