"""``redis-server`` alone, and three of them as a Redis Cluster."""
import os
import signal
import subprocess

from .process import ChildProcess, ServerError, find_binary, free_port, run, wait_until


class RedisServer(ChildProcess):
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
