"""Processes the runner starts for the apps: pserve with a generated ini, or a peer.

Every process is started by us, remembered by its pid, polled until it answers
(against a deadline, never a fixed sleep) and stopped by that pid alone.
"""
import os
import subprocess
import sys

import requests

from realservers import ChildProcess, ServerError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Every app the runner serves with waitress (ours, the Pyramid peers, the bare app)
# gets these: waitress's defaults, written down so all match and the report names them.
WAITRESS = {'threads': 4, 'connection_limit': 100}


def venv_script(name):
    """A console script of the running Python's environment (pserve, sessiondemo-purge)."""
    path = os.path.join(os.path.dirname(sys.executable), name)
    if not os.path.exists(path):
        raise ServerError(f'{name} not found next to {sys.executable}: pip install -e .[bench]')
    return path


def child_env(**extra):
    env = dict(os.environ)
    # pserve imports benchmarks.instrumented (``use = call:...``) from the checkout.
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [REPO, env.get('PYTHONPATH')]))
    env.update({key: str(value) for key, value in extra.items()})
    return env


def waitress_args():
    """WAITRESS as command-line options, for the peers' own launchers."""
    return [f'--{key.replace("_", "-")}={value}' for key, value in WAITRESS.items()]


def write_ini(path, settings, port):
    """An ini for pserve: the instrumented app with ``settings`` on 127.0.0.1:port."""
    lines = ['[app:main]', 'use = call:benchmarks.instrumented:main']
    lines += [f'{key} = {value}' for key, value in settings.items()]
    lines += ['', '[server:main]', 'use = egg:waitress#main', f'listen = 127.0.0.1:{port}']
    lines += [f'{key} = {value}' for key, value in WAITRESS.items()] + ['']
    # Warnings only; waitress's "task queue depth" is the load we mean to apply.
    lines += ['[loggers]', 'keys = root, queue', '[handlers]', 'keys = console',
              '[formatters]', 'keys = plain', '[logger_root]', 'level = WARNING',
              'handlers = console', '[logger_queue]', 'level = ERROR', 'handlers =',
              'qualname = waitress.queue', '[handler_console]', 'class = StreamHandler',
              'args = (sys.stderr,)', 'formatter = plain', '[formatter_plain]',
              'format = %(asctime)s %(levelname)s [%(name)s] %(message)s', '']
    with open(path, 'w') as ini:
        ini.write('\n'.join(lines))
    return path


class AppProcess(ChildProcess):
    """One app process on a loopback port; ``ready_path`` must answer 200 when it is up."""

    def __init__(self, args, log_path, port, ready_path='/api/csrf', env=None, cwd=REPO):
        self.args = list(args)
        self.log_path = log_path
        self.port = port
        self.ready_path = ready_path
        self.env = env or child_env()
        self.cwd = cwd
        self.process = None

    @property
    def base_url(self):
        return f'http://127.0.0.1:{self.port}'

    @property
    def pid(self):
        return self.process.pid

    def start(self, timeout=60):
        self.launch()
        return self.wait_ready(timeout)

    def launch(self):
        with open(self.log_path, 'ab') as log:
            self.process = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                            env=self.env, cwd=self.cwd)
        return self

    def wait_ready(self, timeout=60):
        return self._wait_ready(timeout, f'{os.path.basename(self.args[0])} on port {self.port}')

    def _ready(self):
        self._check_alive(self.args[0])
        try:
            return requests.get(self.base_url + self.ready_path, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def stop(self, timeout=15):
        self._stop_process(timeout)

    def restart(self):
        self.stop()
        return self.start()


def pserve(ini_path, log_path, port):
    return AppProcess([venv_script('pserve'), ini_path], log_path, port)

