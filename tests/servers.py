"""Real Redis, Redis Cluster and PostgreSQL servers on loopback ports, for a while.

Plain context managers with no pytest in them: the test fixtures and the
benchmark runner both use them. Each server finds its binaries (PATH, then
Debian's /usr/lib/postgresql/*/bin), listens on a free 127.0.0.1 port, is
waited for by polling a readiness check against a deadline (never a fixed
sleep), and stops only the processes it started, by pid.

    with RedisServer(directory) as server:
        server.url          # redis://127.0.0.1:<port>/0
        server.pause()      # SIGSTOP: an outage that keeps the socket open
        server.resume()
"""
import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
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


class _Process:
    """A started child process: stopped by its own pid and nothing else."""

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


class RedisServer(_Process):
    """One ``redis-server`` in ``directory`` on a loopback port, without persistence."""

    def __init__(self, directory, port=None, extra_args=()):
        self.directory = str(directory)
        self.port = port or free_port()
        self.extra_args = list(extra_args)
        self.log_path = os.path.join(self.directory, f'redis-{self.port}.log')

    @property
    def url(self):
        return f'redis://127.0.0.1:{self.port}/0'

    def cli(self, *args, timeout=5):
        return run([find_binary('redis-cli'), '-h', '127.0.0.1', '-p', str(self.port), *args],
                   timeout=timeout)

    def ping(self):
        try:
            return self.cli('PING', timeout=2).stdout.strip() == 'PONG'
        except subprocess.TimeoutExpired:
            return False

    def start(self, timeout=20):
        os.makedirs(self.directory, exist_ok=True)
        with open(self.log_path, 'ab') as log:
            self.process = subprocess.Popen(
                [find_binary('redis-server'), '--port', str(self.port), '--bind', '127.0.0.1',
                 '--dir', self.directory, '--save', '', '--appendonly', 'no',
                 '--daemonize', 'no', *self.extra_args],
                stdout=log, stderr=subprocess.STDOUT)
        return self._wait_ready(timeout, f'redis-server on port {self.port}')

    def _ready(self):
        self._check_alive('redis-server')
        return self.ping()

    def stop(self):
        self._stop_process()

    def pause(self):
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.process.pid, signal.SIGCONT)


class RedisCluster:
    """Three cluster-enabled ``redis-server`` nodes (all primaries), one per directory."""

    def __init__(self, directory, nodes=3):
        self.directory = str(directory)
        self.nodes = []
        for _ in range(nodes):
            port = free_port()
            self.nodes.append(RedisServer(
                os.path.join(self.directory, f'node-{port}'), port,
                ['--cluster-enabled', 'yes', '--cluster-config-file', f'nodes-{port}.conf',
                 '--cluster-port', str(free_port()), '--cluster-node-timeout', '5000']))

    @property
    def url(self):
        """Any node is a way in; the client learns the others from it."""
        return self.nodes[0].url

    def start(self, timeout=30):
        try:
            for node in self.nodes:
                node.start(timeout)
            create = run([find_binary('redis-cli'), '--cluster', 'create',
                          *[f'127.0.0.1:{node.port}' for node in self.nodes],
                          '--cluster-replicas', '0', '--cluster-yes'], timeout=timeout)
            if create.returncode != 0:
                raise ServerError(f'redis-cli --cluster create failed: {create.stdout}'
                                  f'{create.stderr}')
            wait_until(self._healthy, timeout, 'Redis Cluster')
        except BaseException:
            self.stop()
            raise
        return self

    def _healthy(self):
        # Every node must agree that all slots are served before clients come.
        return all('cluster_state:ok' in node.cli('CLUSTER', 'INFO').stdout
                   for node in self.nodes)

    def stop(self):
        for node in self.nodes:
            node.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


class PostgresServer:
    """A throwaway PostgreSQL cluster (initdb + pg_ctl) on a loopback port.

    ``initdb`` and ``postgres`` refuse to run as root; then they run as the
    ``postgres`` user in a temporary directory that user owns (pytest's own
    temporary directories are private to root, hence not those).
    """

    def __init__(self, port=None, user='postgres', max_connections=300):
        self.port = port or free_port()
        self.user = user
        self.max_connections = max_connections
        self.directory = None
        self.as_root = os.geteuid() == 0

    @property
    def data(self):
        return os.path.join(self.directory, 'data')

    @property
    def url(self):
        return f'postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/postgres'

    def _run(self, args, timeout=60):
        if self.as_root:
            args = ['runuser', '-u', 'postgres', '--', *args]
        result = run(args, timeout=timeout, cwd=self.directory)
        if result.returncode != 0:
            raise ServerError(f'{" ".join(args)} failed: {result.stdout}{result.stderr}')
        return result

    def start(self, timeout=60):
        self.directory = tempfile.mkdtemp(prefix='sessiondemo-pg-')
        if self.as_root:
            owner = pwd.getpwnam('postgres')
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
        try:
            self._run([find_binary('initdb'), '-D', self.data, '-U', self.user, '-A', 'trust',
                       '-E', 'UTF8', '--no-sync'], timeout)
            self.start_server(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def start_server(self, timeout=60):
        """Start (or restart) the postmaster on the existing data directory."""
        options = (f'-h 127.0.0.1 -p {self.port} -k {self.directory} '
                   f'-c fsync=off -c max_connections={self.max_connections}')
        # pg_ctl -w polls the server until it accepts connections.
        self._run([find_binary('pg_ctl'), '-D', self.data, '-l',
                   os.path.join(self.directory, 'postgres.log'), '-o', options,
                   '-w', '-t', str(int(timeout)), 'start'], timeout + 5)
        wait_until(self._ready, timeout, f'PostgreSQL on port {self.port}')

    def _ready(self):
        return run([find_binary('pg_isready'), '-h', '127.0.0.1', '-p', str(self.port)],
                   timeout=10).returncode == 0

    def stop_server(self, timeout=60):
        """Stop the postmaster we started (pg_ctl knows it by this data directory)."""
        if self.directory and os.path.exists(os.path.join(self.data, 'postmaster.pid')):
            self.resume()
            self._run([find_binary('pg_ctl'), '-D', self.data, '-m', 'fast', '-w',
                       '-t', str(int(timeout)), 'stop'], timeout + 5)

    def stop(self):
        try:
            self.stop_server()
        finally:
            if self.directory:
                shutil.rmtree(self.directory, ignore_errors=True)
                self.directory = None

    def pids(self):
        """The postmaster (from its pid file) and its children: the server, no more."""
        try:
            with open(os.path.join(self.data, 'postmaster.pid')) as pid_file:
                postmaster = int(pid_file.readline())
        except (OSError, ValueError):
            return []
        children = []
        for stat in glob.glob('/proc/[0-9]*/stat'):
            try:
                with open(stat) as f:
                    fields = f.read().rsplit(')', 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:            # fields[1] is the ppid
                children.append(int(stat.split('/')[2]))
        return [postmaster, *children]

    def pause(self):
        for pid in self.pids():
            os.kill(pid, signal.SIGSTOP)

    def resume(self):
        for pid in self.pids():
            os.kill(pid, signal.SIGCONT)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


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
