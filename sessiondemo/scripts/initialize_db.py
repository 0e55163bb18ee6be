"""``sessiondemo-initdb CONFIG_URI``: bring the database schema to the newest migration.

The sessions table (SQL store) lives in ``session.sql.url`` when that names
another database than ``sqlalchemy.url``; then that database is migrated too.
"""
import argparse
import sys

from alembic import command
from alembic.config import Config
from pyramid.paster import get_appsettings, setup_logging

from .. import config
from ..models import get_engine


def upgrade(engine, revision='head'):
    """Run the Alembic migrations on ``engine`` (used by the tests too)."""
    cfg = Config()
    cfg.set_main_option('script_location', 'sessiondemo:alembic')
    with engine.begin() as connection:
        cfg.attributes['connection'] = connection
        command.upgrade(cfg, revision)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config_uri', help='Configuration file, e.g. development.ini')
    return parser.parse_args(argv[1:])


def databases(settings):
    """The engines to migrate: the users database, and the sessions one if separate."""
    engines = [get_engine(settings)]
    app_settings = config.read(settings)
    session_url = app_settings.session.sql_url
    if session_url and session_url != app_settings.database_url:
        engines.append(get_engine({'sqlalchemy.url': session_url}))
    return engines


def main(argv=sys.argv):
    args = parse_args(argv)
    setup_logging(args.config_uri)
    settings = config.apply_environment(dict(get_appsettings(args.config_uri)))
    for engine in databases(settings):
        upgrade(engine)
        print(f'database at {engine.url.render_as_string(hide_password=True)} is up to date')
        engine.dispose()


if __name__ == '__main__':
    main()
