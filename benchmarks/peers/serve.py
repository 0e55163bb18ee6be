"""waitress as the runner serves every Pyramid app it starts, from the command line.

The runner passes ``benchmarks.apps.WAITRESS`` as options, so the peers and the
bare app get the same threads and connection limit as sessiondemo under pserve.
"""
import argparse
import logging


def parser(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--threads', type=int, required=True)
    parser.add_argument('--connection-limit', type=int, required=True)
    return parser


def serve(app, args):
    import waitress
    logging.getLogger('waitress.queue').setLevel(logging.ERROR)   # the load we mean to apply
    waitress.serve(app, host='127.0.0.1', port=args.port, threads=args.threads,
                   connection_limit=args.connection_limit, _quiet=True)
