"""A WSGI app served by waitress in a thread of this process, for tests that need a port."""
import contextlib
import threading


@contextlib.contextmanager
def serving(app, threads=4):
    """A WSGI app under waitress on a free loopback port, in a thread of this
    process; yields its base URL and stops it cleanly."""
    from waitress import wasyncore
    from waitress.server import create_server

    server = create_server(app, host='127.0.0.1', port=0, threads=threads)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.effective_port}'
    finally:
        # Close every socket from the server's own loop thread (closing them
        # from here races its select()); with nothing left to watch, run() returns.
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        thread.join(10)
        server.task_dispatcher.shutdown()
        assert not thread.is_alive(), 'waitress did not stop'
