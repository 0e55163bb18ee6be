"""A throwaway PostgreSQL cluster, run as the ``postgres`` user when we are root."""
import glob
import os
import pwd
import shutil
import signal
import tempfile

from .process import ServerError, find_binary, free_port, run, wait_until


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
            # Every database made from now on has it (template1), and the default one.
            for database in ('template1', 'postgres'):
                self._run([find_binary('psql'), '-h', '127.0.0.1', '-p', str(self.port),
                           '-U', self.user, '-d', database, '-q', '-v', 'ON_ERROR_STOP=1',
                           '-c', 'CREATE EXTENSION pg_stat_statements'], timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def start_server(self, timeout=60):
        """Start (or restart) the postmaster on the existing data directory."""
        # pg_stat_statements: what the server ran, counted where it lands
        # (statements.py); a hash update per statement.
        options = (f'-h 127.0.0.1 -p {self.port} -k {self.directory} '
                   f'-c fsync=off -c max_connections={self.max_connections} '
                   f'-c shared_preload_libraries=pg_stat_statements')
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
