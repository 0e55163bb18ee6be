from setuptools import find_packages, setup

requires = [
    'pyramid>=2.0.2',
    'pyramid_jinja2>=2.10',
    'pyramid_tm>=2.5',
    'zope.sqlalchemy>=3.1',
    'transaction>=4.0',
    'SQLAlchemy>=2.0.25',
    'alembic>=1.13',
    'waitress>=3.0',
    'bcrypt>=4.1',
    'cryptography>=42',
    'redis>=5.0',
    'hiredis>=3.0',                     # redis-py's C reply parser: ~12 µs less per command here
    'psycopg[binary]>=3.1.18',
    'plaster_pastedeploy>=1.0',
    'openapi-spec-validator>=0.7',      # checks openapi.yaml once at start-up
    'jsonschema-rs>=0.20',              # request validators, compiled once per operation
    'openapi-schema-validator>=0.6',    # OAS 3.0 response checks (tests turn them on)
    'jsonschema>=4.18',
    'PyYAML>=6.0',
    'orjson>=3.9',                      # responses and stored sessions (fastjson.py)
    'ua-parser>=1.0',                   # browser and system on the sessions page (readable.py)
    'prometheus_client>=0.20',          # /metrics, multiprocess mode (metrics.py)
]

tests_require = [
    'pytest>=8.0',
    'WebTest>=3.0.1',
    'playwright>=1.44',
    'hypothesis>=6.100',
    'schemathesis>=4.0',
]

bench_require = [
    'locust>=2.25',
    'matplotlib>=3.8',
    'pyramid_session_redis>=1.8.1',
    'psutil>=5.9',          # server CPU and RSS of the processes the runner starts
    'requests>=2.31',       # the probes' HTTP client
]

setup(
    name='sessiondemo',
    version='0.1.0',
    description='Session-based authentication in Pyramid, four session stores, measured',
    # The app only: tests, benchmarks and the real-server launchers they share
    # are run from a checkout, which puts them on sys.path.
    packages=find_packages(exclude=['tests', 'tests.*', 'benchmarks', 'benchmarks.*',
                                    'realservers', 'realservers.*']),
    include_package_data=True,
    package_data={'sessiondemo': ['templates/*.jinja2', 'static/*', 'alembic/*.py',
                                  'alembic/*.mako', 'alembic/versions/*.py', 'openapi.yaml']},
    zip_safe=False,
    python_requires='>=3.10',
    install_requires=requires,
    extras_require={'test': tests_require, 'bench': bench_require},
    entry_points={
        'paste.app_factory': ['main = sessiondemo:main'],
        'console_scripts': [
            'sessiondemo-initdb = sessiondemo.scripts.initialize_db:main',
            'sessiondemo-purge = sessiondemo.scripts.purge:main',
        ],
    },
)
