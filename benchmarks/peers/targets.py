"""The peers as benchmark targets: what one would use instead of sessiondemo.

They serve the same JSON API as far as the scenarios need it (``GET /api/csrf``
minting a CSRF token in its own cookie and loading no session; register, login
with bcrypt at the same rounds, logout; ``GET /api/me``; ``PATCH
/api/session/data``; ``GET /api/greet``), with a CSRF check on every unsafe
request. So the reader, writer, churn and mix scenarios and rows 1, 3, 5, 8, 9,
10 and 11 are measured on them the same way as on sessiondemo; the anonymous
scenario (it needs the HTML pages) and the rows about purging and expiry do not
apply. What each peer does not do is written in its module's docstring.
"""
import base64
import hashlib
import hmac
import os
import secrets
import shutil
import subprocess
import sys
import time
from urllib.parse import quote

from realservers import ServerError, free_port

from ..apps import AppProcess, child_env, waitress_args
from ..targets import BCRYPT_ROUNDS, Target, version_of
from . import bare_pyramid

NODE_DIR = os.path.dirname(os.path.abspath(__file__)) + '/node'


class PeerTarget(Target):
    kind = 'peer'
    needs_register = False
    server_side = True
    scenarios = ('reader', 'writer', 'churn', 'mix')     # no HTML pages: no anonymous

    def command(self, port):
        raise NotImplementedError

    def env(self):
        return child_env(BENCH_SECRET=self.context.secret, BENCH_PASSWORD=self.context.password,
                         BENCH_BCRYPT_ROUNDS=BCRYPT_ROUNDS)

    def make_app(self, port, role):
        process = AppProcess(self.command(port), os.path.join(self.dir, f'{role}.log'), port,
                             env=self.env())
        process.role = role
        return process

    def twin(self):
        return self.make_app(free_port(), 'twin')


class SignedCookiePeer(PeerTarget):
    name = 'peer-pyramid-signedcookie'
    label = 'Pyramid SignedCookieSessionFactory'
    cookie_name = 'session'
    server_side = False

    def command(self, port):
        return [sys.executable, '-m', 'benchmarks.peers.pyramid_peer', '--kind', 'signedcookie',
                f'--port={port}', *waitress_args()]

    def records(self, app=None):
        return 0

    def forgeries(self, victim):
        # Pyramid's own serializer with the defaults the factory uses.
        from pyramid.session import JSONSerializer
        from webob.cookies import SignedSerializer
        serializer = SignedSerializer(self.context.secret, 'pyramid.session.', 'sha512',
                                      serializer=JSONSerializer())
        now = time.time()
        value = serializer.dumps((now, now, {'user': victim['username']})).decode('ascii')
        return [(f'signed payload naming {victim["username"]}', f'session={value}')]


class PyramidRedisPeer(PeerTarget):
    name = 'peer-pyramid-session-redis'
    label = 'pyramid_session_redis'
    cookie_name = 'session'

    def redis_needed(self):
        return True

    def command(self, port):
        return [sys.executable, '-m', 'benchmarks.peers.pyramid_peer', '--kind', 'redis',
                f'--port={port}', '--redis-url', self.redis.url, *waitress_args()]

    def records(self, app=None):
        return self.redis_client().dbsize()

    def requirements(self):
        return [version_of('redis-server')]

    def forgeries(self, victim):
        from webob.cookies import SignedSerializer
        from pyramid_session_redis import _StringSerializer
        serializer = SignedSerializer(self.context.secret, 'pyramid_session_redis.', 'sha512',
                                      serializer=_StringSerializer())
        value = serializer.dumps(secrets.token_urlsafe(32)).decode('ascii')
        return [('signed fresh session id', f'session={value}')]


def node_available():
    return bool(shutil.which('node') and shutil.which('npm'))


def npm_install():
    """Install the pinned packages into benchmarks/peers/node/node_modules once."""
    stamp = os.path.join(NODE_DIR, 'node_modules', '.package-lock.json')
    lock = os.path.join(NODE_DIR, 'package-lock.json')
    if os.path.exists(stamp) and os.path.getmtime(stamp) >= os.path.getmtime(lock):
        return
    verb = 'ci' if os.path.exists(lock) else 'install'
    result = subprocess.run(['npm', verb, '--no-audit', '--no-fund', '--loglevel=error'],
                            cwd=NODE_DIR, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise ServerError(f'npm {verb} failed: {result.stderr[-2000:]}')


class ExpressPeer(PeerTarget):
    cookie_name = 'sid'
    store = 'memory'

    def start_app(self):
        npm_install()
        super().start_app()

    def command(self, port):
        # --expose-gc: the memory probe collects garbage before its readings.
        return ['node', '--expose-gc', os.path.join(NODE_DIR, 'server.js')]

    def make_app(self, port, role):
        process = super().make_app(port, role)
        process.env = dict(process.env, PORT=str(port), STORE=self.store,
                           REDIS_URL=self.redis.url if self.redis else '')
        return process

    def forgeries(self, victim):
        # cookie-signature: "s:" + id + "." + base64(HMAC-SHA256(secret, id)) unpadded.
        sid = secrets.token_urlsafe(24)
        mac = hmac.new(self.context.secret.encode(), sid.encode(), hashlib.sha256).digest()
        value = 's:' + sid + '.' + base64.b64encode(mac).decode().rstrip('=')
        return [('signed fresh session id', f'sid={quote(value, safe="")}')]

    def requirements(self):
        return [f'node {version_of("node")}']


class ExpressMemoryPeer(ExpressPeer):
    name = 'peer-express-memorystore'
    label = 'express-session MemoryStore'


class ExpressRedisPeer(ExpressPeer):
    name = 'peer-express-connect-redis'
    label = 'express-session + connect-redis'
    store = 'redis'

    def redis_needed(self):
        return True

    def records(self, app=None):
        return self.redis_client().dbsize()

    def requirements(self):
        return super().requirements() + [version_of('redis-server')]


def bare_app(run_dir):
    """Row 11's floor: a bare Pyramid app (one JSON view) under the same waitress settings."""
    directory = os.path.join(run_dir, 'targets', 'bare-pyramid')
    os.makedirs(directory, exist_ok=True)
    port = free_port()
    return AppProcess([sys.executable, '-m', 'benchmarks.peers.bare_pyramid', f'--port={port}',
                       *waitress_args()], os.path.join(directory, 'app.log'), port,
                      ready_path=bare_pyramid.PATH)


PYRAMID_PEERS = {cls.name: cls for cls in (SignedCookiePeer, PyramidRedisPeer)}
NODE_PEERS = {cls.name: cls for cls in (ExpressMemoryPeer, ExpressRedisPeer)}
