"""``sessiondemo-purge CONFIG_URI``: delete expired sessions from the SQL store.

It also empties the cookie store's deny list (revoked_sessions, in the users
database) of entries whose cookie could no longer be alive.

Expired rows are never served (every read asks for ``expires_at`` in the
future), but they stay in the table until this runs: from cron, say, every few
minutes. It prints how many rows it deleted. It purges the SQL table whatever
``session.store`` says now (rows outlive a switch to another store); Redis and
memory expire sessions by themselves.
"""
import argparse
import sys

from pyramid.paster import get_appsettings, setup_logging

from .. import config
from ..connections import Connections
from ..models import get_engine
from ..sessions.revocation import CookieRevocation
from ..sessions.sqlstore import make_store


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config_uri', help='Configuration file, e.g. production.ini')
    return parser.parse_args(argv[1:])


def main(argv=sys.argv):
    args = parse_args(argv)
    setup_logging(args.config_uri)
    settings = config.apply_environment(dict(get_appsettings(args.config_uri)))
    app_settings = config.read(settings)
    users_engine = get_engine(settings)
    connections = Connections(app_settings, users_engine)
    store = make_store(app_settings, connections)
    try:
        deleted = store.purge_expired()
        # The cookie store's deny list, in the users database.
        denied = CookieRevocation(connections.users(), app_settings.clock).purge_expired()
    finally:
        store.bind.dispose()
        users_engine.dispose()
    print(f'deleted {deleted} expired session{"" if deleted == 1 else "s"}')
    if denied:
        print(f'deleted {denied} expired entr{"y" if denied == 1 else "ies"} of the '
              f'cookie store\'s deny list')
    return deleted


if __name__ == '__main__':
    main()
