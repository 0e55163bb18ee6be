"""The machine, versions and settings a run's figures depend on, read at run time."""
import json
import os
import platform
import subprocess
import sys
from importlib import metadata

from .targets import version_of

PYTHON_PACKAGES = ['pyramid', 'waitress', 'WebOb', 'SQLAlchemy', 'psycopg', 'redis', 'bcrypt',
                   'pyramid_tm', 'pyramid_session_redis', 'locust', 'matplotlib', 'requests']
NODE_PACKAGES = ['express', 'express-session', 'connect-redis', 'redis']


def cpu_model():
    try:
        with open('/proc/cpuinfo') as cpuinfo:
            for line in cpuinfo:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def memory_gib():
    try:
        with open('/proc/meminfo') as meminfo:
            kib = int(meminfo.readline().split()[1])
        return round(kib / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        return None


def machine():
    return {'cores': os.cpu_count(), 'cpu_model': cpu_model(), 'memory_gib': memory_gib(),
            'system': f'{platform.system()} {platform.release()}',
            'python': sys.version.split()[0]}


def wrk_version():
    # wrk -v prints its version and exits 1.
    out = subprocess.run(['wrk', '-v'], capture_output=True, text=True, timeout=10)
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else 'wrk'


def node_versions(node_dir):
    versions = {}
    for name in NODE_PACKAGES:
        try:
            with open(os.path.join(node_dir, 'node_modules', name, 'package.json')) as package:
                versions[f'npm:{name}'] = json.load(package)['version']
        except OSError:
            pass
    return versions


def versions(node_dir=None, node=False):
    found = {}
    for name in PYTHON_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = 'not installed'
    found['redis-server'] = version_of('redis-server')
    found['postgres'] = version_of('postgres')
    found['wrk'] = wrk_version()
    if node:
        found['node'] = version_of('node')
        found.update(node_versions(node_dir))
    return found


def source(repo):
    """The commit the apps ran from, and files changed on top of it (they ran too)."""
    def git(*args):
        try:
            return subprocess.run(['git', *args], cwd=repo, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ''
    changed = [line[3:] for line in git('status', '--porcelain').splitlines()
               if line[3:].startswith(('sessiondemo/', 'benchmarks/'))]
    return {'commit': git('rev-parse', '--short', 'HEAD') or 'unknown',
            'uncommitted_changes': changed}
