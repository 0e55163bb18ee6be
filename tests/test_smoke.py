def test_register_me_logout(testapp, store):
    testapp.register()
    me = testapp.get('/api/me').json
    assert me['user']['username'] == 'frodo'
    # Fixture names are '<session.store>' or '<session.store>-<variant>'.
    assert me['session']['store'] == store.split('-')[0]
    testapp.logout()
    testapp.get('/api/me', status=401)
