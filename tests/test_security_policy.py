"""The security policy's own rules, on Pyramid's test request (the contract
suite covers what a client sees)."""
from pyramid import testing

from sessiondemo.security import SessionSecurityPolicy
from sessiondemo.sessions.record import EPOCH_KEY, USERID_KEY, USERNAME_KEY


def logged_in(request, user_id, username):
    request.session.update({USERID_KEY: user_id, USERNAME_KEY: username, EPOCH_KEY: 0})


def test_the_identity_is_read_once_a_request():
    policy, request = SessionSecurityPolicy(), testing.DummyRequest()
    logged_in(request, 1, 'frodo')
    assert policy.identity(request).username == 'frodo'
    logged_in(request, 2, 'sam')            # not through remember(): not seen
    assert policy.identity(request).username == 'frodo'


def test_remember_and_forget_are_seen_by_the_same_request():
    policy, request = SessionSecurityPolicy(), testing.DummyRequest()
    assert policy.identity(request) is None
    policy.remember(request, 2)
    request.session.update({USERNAME_KEY: 'sam', EPOCH_KEY: 0})
    assert policy.identity(request).username == 'sam'
    assert policy.authenticated_userid(request) == 2
    policy.forget(request)
    assert policy.identity(request) is None
