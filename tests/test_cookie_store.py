"""The cookie store's own rules: JSON inside, signed or encrypted, nothing on the server."""
import base64
import json

import pytest

from sessiondemo.sessions.cookie import CookieBackend
from sessiondemo.config import CookieSettings, Timeouts
from sessiondemo.sessions.cookies import SessionCookie
from sessiondemo.sessions.record import Record
from sessiondemo.sessions.signing import Encrypter

from .helpers import OLD_SECRET, PASSWORD, SECRET


@pytest.fixture
def store():
    return 'cookie'


def b64(text):
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


def test_signed_cookie_is_json_not_pickle(testapp):
    testapp.register('frodo')
    payload, signature = testapp.session_cookie().split('.')
    session = json.loads(b64(payload))
    assert session['d']['auth.userid'] == 1
    assert 'c' in session and 't' in session      # timeouts live inside the signature


def test_encrypted_cookie_hides_its_content(app_settings, make_app_client):
    app_settings['session.cookie.encrypt'] = 'true'
    client = make_app_client(app_settings)
    client.register('frodo')
    client.api('PATCH', '/api/session/data', {'name': 'Frodo Baggins'}, status=200)
    raw = b64(client.session_cookie())
    assert b'Frodo' not in raw and b'auth' not in raw
    assert client.get('/api/greet').json == {'message': 'hello Frodo Baggins'}


def test_a_cookie_signed_with_another_secret_is_anonymous(app_settings, make_app_client):
    mine = make_app_client(app_settings)
    theirs = make_app_client(dict(app_settings, **{'session.secrets': OLD_SECRET}))
    theirs.register('frodo')
    mine.set_cookie('sid', theirs.session_cookie())
    mine.get('/api/me', status=401)


def test_forging_requires_the_key():
    """With the key, anyone can mint a session for any user (benchmark row 9)."""
    timeouts, cookie = Timeouts(), SessionCookie(CookieSettings())
    now = 1_000_000.0
    forged = Record(data={'auth.userid': 2}, created=now, touched=now, user_id=2)
    with_key = CookieBackend([SECRET], timeouts, cookie, clock=lambda: now)
    without_key = CookieBackend([OLD_SECRET], timeouts, cookie, clock=lambda: now)
    assert with_key.decode(without_key.encode('x', forged)) is None
    assert with_key.decode(with_key.encode('x', forged))[1].data == {'auth.userid': 2}


def test_signed_and_encrypted_cookies_do_not_mix():
    timeouts, cookie = Timeouts(), SessionCookie(CookieSettings())
    record = Record(data={'a': 1}, created=1.0, touched=1.0)
    signed = CookieBackend([SECRET], timeouts, cookie)
    sealed = CookieBackend([SECRET], timeouts, cookie, encrypt=True)
    assert sealed.decode(signed.encode('x', record)) is None
    assert signed.decode(sealed.encode('x', record)) is None


def test_a_cookie_from_the_future_is_refused(app_settings, make_app_client, clock):
    client = make_app_client(app_settings)
    clock.advance(10_000)
    client.register('frodo')
    cookie = client.session_cookie()
    clock.advance(-10_000)
    replay = make_app_client(app_settings)
    replay.set_cookie('sid', cookie)
    replay.get('/api/me', status=401)


def test_the_largest_accepted_cookie_fits_a_browser(testapp):
    """At the edge: the biggest session accepted sends a Set-Cookie of at most
    4096 bytes, attributes (Expires, Max-Age, Path...) included; one more
    character is refused with 413 and the old cookie kept."""
    testapp.register('frodo')

    def accepted(size):
        response = testapp.api('PATCH', '/api/session/data', {'blob': 'x' * size})
        return response if response.status_int == 200 else None

    low, high = 0, 4096
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if accepted(middle) else (low, middle)
    (set_cookie,) = [h for h in accepted(low).headers.getall('Set-Cookie')
                     if h.startswith('sid=')]
    assert 4000 < len(set_cookie.encode()) <= 4096
    before = testapp.session_cookie()
    response = testapp.api('PATCH', '/api/session/data', {'blob': 'x' * (low + 1)})
    assert response.status_int == 413 and testapp.session_cookie() == before


# Encryption bound to its use, base64 read strictly (issue 11) ----------------

def sealed_backend(name='sid', secret=SECRET):
    return CookieBackend([secret], Timeouts(), SessionCookie(CookieSettings(name=name)),
                         encrypt=True)


def a_record():
    return Record(data={'auth.userid': 1, 'data:name': 'Frodo'}, created=1.0, touched=1.0,
                  user_id=1)


def test_an_encrypted_cookie_opens_only_under_its_own_name():
    """The associated data holds the cookie's name: the same secrets, another
    cookie name, and the value is not a session."""
    value = sealed_backend('sid').encode('x', a_record())
    assert sealed_backend('sid').decode(value)[1].data == a_record().data
    assert sealed_backend('other').decode(value) is None
    assert sealed_backend('__Host-sid').decode(value) is None


def test_an_encrypted_cookie_carries_its_format_version(monkeypatch):
    backend = sealed_backend()
    raw = b64(backend.encode('x', a_record()))
    assert raw[0] == Encrypter.VERSION
    # Another version byte in front: refused before decryption...
    other = base64.urlsafe_b64encode(bytes([raw[0] + 1]) + raw[1:]).rstrip(b'=').decode()
    assert backend.decode(other) is None
    # ...and a value sealed under another version, front byte and associated
    # data alike, does not open either.
    monkeypatch.setattr(Encrypter, 'VERSION', Encrypter.VERSION + 1)
    future = sealed_backend().encode('x', a_record())
    monkeypatch.undo()
    assert backend.decode(future) is None


def test_the_version_is_authenticated_not_only_sent(monkeypatch):
    """The version byte is in the associated data too: a value sealed under
    version 2 with version 1's byte in front does not open as version 1."""
    monkeypatch.setattr(Encrypter, 'VERSION', 2)
    raw = b64(sealed_backend().encode('x', a_record()))
    monkeypatch.undo()
    relabelled = base64.urlsafe_b64encode(b'\x01' + raw[1:]).rstrip(b'=').decode()
    assert sealed_backend().decode(relabelled) is None


def noncanonical_variants(value):
    """The same bytes by Python's lenient decoder, in text that is not ours."""
    yield value + '='                                    # padding
    yield value + '=='
    yield value[:4] + '!' + value[4:]                    # outside the alphabet
    yield value[:4] + ' ' + value[4:]
    yield value[:4] + '\n' + value[4:]
    yield value.replace('-', '+').replace('_', '/') if ('-' in value or '_' in value) \
        else value[:4] + '+' + value[4:]
    if len(value) % 4 in (2, 3):                         # stray bits in the last character
        alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
        yield value[:-1] + alphabet[alphabet.index(value[-1]) ^ 1]


@pytest.mark.parametrize('size', range(3))
def test_base64_is_read_strictly(size):
    from sessiondemo.urlsafe import b64decode, b64encode
    data = bytes(range(30 + size))
    text = b64encode(data)
    assert b64decode(text) == data
    variants = list(noncanonical_variants(text))
    assert len(variants) == (7 if size else 6)
    for variant in variants:
        with pytest.raises(ValueError):
            b64decode(variant)
    if size:    # what Python's lenient decoder makes of stray bits: the same bytes
        assert base64.urlsafe_b64decode(variants[-1] + '=' * (-len(text) % 4)) == data


@pytest.mark.parametrize('encrypt', [False, True])
def test_a_cookie_in_noncanonical_base64_is_not_ours(encrypt):
    cookie = SessionCookie(CookieSettings())
    backend = CookieBackend([SECRET], Timeouts(), cookie, encrypt=encrypt)
    record = a_record()
    seen = 0
    for padding in range(3):           # lengths that leave stray bits, and one that does not
        record.data['pad'] = 'x' * padding
        value = backend.encode('x', record)
        assert backend.decode(value) is not None
        body = value if encrypt else value.split('.')[0]
        for variant in noncanonical_variants(body):
            tampered = variant if encrypt else variant + '.' + value.split('.')[1]
            assert backend.decode(tampered) is None, tampered
            seen += 1
    assert seen >= 19


def test_a_tampered_encrypted_cookie_is_anonymous_in_the_app(app_settings, make_app_client):
    app_settings['session.cookie.encrypt'] = 'true'
    client = make_app_client(app_settings)
    client.register('frodo')
    value = client.session_cookie()
    for variant in [value + '=', value[:4] + '!' + value[4:]]:
        other = make_app_client(app_settings, share_store_with=client)
        other.set_cookie('sid', variant)
        other.get('/api/me', status=401)
    renamed = make_app_client(dict(app_settings, **{'session.cookie_name': 'sid2'}))
    renamed.set_cookie('sid2', value)
    renamed.get('/api/me', status=401)


def test_signatures_are_compared_in_constant_time(monkeypatch):
    """Never ``==``: a comparison that stops at the first wrong byte tells a
    forger, by its time, how much of his signature is right."""
    from sessiondemo.sessions import signing
    compared = []
    real = signing.hmac.compare_digest
    monkeypatch.setattr(signing.hmac, 'compare_digest',
                        lambda a, b: compared.append((a, b)) or real(a, b))
    signer = signing.Signer([SECRET, OLD_SECRET], 'test')
    token = signer.sign('value')
    assert signer.unsign(token) == ('value', True) and compared
    compared.clear()
    assert signer.unsign(token[:-1] + ('A' if token[-1] != 'A' else 'B')) is None
    assert len(compared) == 2                   # once per key, every one tried
    compared.clear()
    assert signer.verify('value', signer.signature('value')) and compared


# What a process knows of revocations (sessions/revocation.py) ----------------

def round_trips(response):
    """The store round trips this response's Server-Timing counts."""
    store = [part for part in response.headers['Server-Timing'].split(', ')
             if part.startswith('store;')][0]
    return int(store.split('desc="')[1].split()[0])


def test_a_cookie_found_valid_is_not_looked_up_again(testapp):
    testapp.register('frodo')
    assert round_trips(testapp.get('/api/me', status=200)) == 1     # looked up once
    assert round_trips(testapp.get('/api/me', status=200)) == 0     # then known


def two_processes(app_settings, make_app_client):
    """Two apps on one users database and secrets, each with what it knows of
    revocations: as two app processes on one machine."""
    return make_app_client(app_settings), make_app_client(app_settings)


def known_on(client, cookie):
    client.set_cookie('sid', cookie)
    client.get('/api/me', status=200)           # the other process now knows it valid
    assert round_trips(client.get('/api/me', status=200)) == 0


@pytest.mark.parametrize('revoke', ['revoke_others', 'password_change'])
def test_a_revocation_in_one_process_is_seen_at_once_by_another(
        app_settings, make_app_client, revoke):
    here, there = two_processes(app_settings, make_app_client)
    here.register('frodo')
    other = make_app_client(app_settings)
    other.login('frodo')
    known_on(there, other.session_cookie())
    if revoke == 'revoke_others':
        here.api('POST', '/api/sessions/revoke-others', status=200)
    else:
        here.api('POST', '/api/password',
                 {'current_password': PASSWORD, 'new_password': PASSWORD + '!'}, status=200)
    there.get('/api/me', status=401)


def test_a_logout_in_one_process_ends_its_copies_in_another(app_settings, make_app_client):
    here, there = two_processes(app_settings, make_app_client)
    here.register('frodo')
    known_on(there, here.session_cookie())
    here.api('POST', '/api/logout', status=200)
    there.get('/api/me', status=401)


@pytest.mark.parametrize('url', ['sqlite://', 'sqlite:///:memory:',
                                 'postgresql+psycopg://u@localhost/db'])
def test_only_a_sqlite_file_shares_what_it_knows(url):
    """Another database may be written from other machines: every read asks it."""
    from sqlalchemy import create_engine
    from sessiondemo.sessions.revocation import Generation
    assert Generation.for_engine(create_engine(url)) is None


def test_bumps_at_once_all_count(tmp_path):
    """Threads of two processes bumping together: none is lost."""
    import os
    import threading
    from sessiondemo.sessions.revocation import Generation
    path = str(tmp_path / 'users.sqlite-revocations')
    Generation(path)                                # the file, before the fork

    def bump_many(generation):
        threads = [threading.Thread(target=lambda: [generation.bump() for _ in range(500)])
                   for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    pid = os.fork()
    if pid == 0:
        try:
            bump_many(Generation(path))
        finally:
            os._exit(0)
    bump_many(Generation(path))
    os.waitpid(pid, 0)
    assert int.from_bytes(Generation(path).value(), 'little') == 2 * 4 * 500
