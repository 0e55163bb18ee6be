def test_register_me_logout(testapp, store):
    testapp.register()
    me = testapp.get('/api/me').json
    assert me['user']['username'] == 'frodo'
    assert me['session']['store'] == ('cookie' if store.startswith('cookie') else store)
    testapp.logout()
    testapp.get('/api/me', status=401)
