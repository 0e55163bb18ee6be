"""What every launcher shares: ports, binaries, polling, and a child stopped by its pid."""
import glob
import os
import shutil
import signal
import socket
import subprocess
import time


class ServerError(RuntimeError):
    pass


def free_port():
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def find_binary(name):
    found = shutil.which(name)
    if found:
        return found
    # Debian keeps PostgreSQL's server binaries off PATH, one directory per version.
    candidates = sorted(glob.glob(f'/usr/lib/postgresql/*/bin/{name}'),
                        key=lambda path: int(path.split('/')[4]) if path.split('/')[4].isdigit()
                        else 0)
    if candidates:
        return candidates[-1]
    raise ServerError(f'{name} not found: install it (make test does) or put it on PATH')


def wait_until(check, timeout, what):
    """Poll ``check()`` until it is true; ServerError naming ``what`` past ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise ServerError(f'{what} not ready after {timeout} s')
        time.sleep(delay)          # polling back-off, not synchronisation
        delay = min(delay * 2, 0.1)


def run(args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)


class ChildProcess:
    """A started child process: stopped by its own pid and nothing else.

    A subclass sets ``self.process`` (a ``subprocess.Popen``) and ``self.log_path``
    in ``start()``, answers ``_ready()`` and defines ``stop()`` (usually
    ``_stop_process``); it is then a context manager.
    """

    process = None

    def _stop_process(self, timeout=10):
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGCONT)     # a paused server can't die of SIGTERM
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _wait_ready(self, timeout, what):
        """Poll ``self._ready`` until ``timeout``; stop the process if it never is."""
        try:
            wait_until(self._ready, timeout, what)
        except BaseException:
            self.stop()
            raise
        return self

    def _check_alive(self, name, tail=3000):
        """ServerError with the end of the log when the process has exited."""
        if self.process.poll() is not None:
            with open(self.log_path, errors='replace') as log:
                raise ServerError(f'{name} exited: {log.read()[-tail:]}')

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()
