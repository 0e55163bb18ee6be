"""Running one compiled statement (sql.Statement) on a psycopg connection,
through psycopg's libpq wrapper (``psycopg.pq``, public API), not its cursor.

The statement is prepared once per connection and each run is one
``PQexecPrepared``: a blocking call that releases the GIL once for the whole
round trip. psycopg's cursor drives the same protocol from Python, in
non-blocking steps, releasing the GIL around each; under a threaded server
each release can cost a context switch, and the steps cost ~60 µs of Python
per statement here (a loopback one-row SELECT: ~70 µs against ~140).

Parameters go as UTF-8 text (``setup`` makes that the connection's encoding)
and the server infers their types from the statement (the dialect's casts say
the rest); results come back as text and are read by their column's type.
Only the types our statements use: another one is a TypeError, not a guess.
"""
from psycopg import DatabaseError, DataError, OperationalError, errors, pq

OK = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK)
SQLSTATE = pq.DiagnosticField.SQLSTATE

# Type oids (pg_type) -> how to read the text form.
_text = bytes.decode            # UTF-8
READERS = {16: lambda raw: raw == b't',                     # bool
           20: int, 21: int, 23: int,                       # int8, int2, int4
           700: float, 701: float,                          # float4, float8
           25: _text, 1043: _text, 1042: _text, 19: _text}  # text, varchar, char, name

# A prepared statement the server no longer has (a pooler's DISCARD ALL), or
# whose plan changed its result type under it (a migration): not the
# server's fault, and a new connection prepares it afresh.
STALE = frozenset({'26000', '0A000'})


def setup(connection):
    """Once per connection: UTF-8 both ways, whatever the server or the
    environment (PGCLIENTENCODING) says."""
    checked(call(connection.pgconn.exec_, b"SET client_encoding TO 'UTF8'"))


def run_statement(connection, prepared, statement, values, fetch):
    """``prepared``: the names already prepared on ``connection``."""
    pgconn = connection.pgconn
    if statement.name not in prepared:
        checked(call(pgconn.prepare, statement.name, statement.sql.encode('utf-8')))
        prepared.add(statement.name)
    result = checked(call(pgconn.exec_prepared, statement.name,
                          [as_text(value) for value in statement.params(values)]))
    if fetch is None:
        return result.command_tuples or 0
    rows = [row_of(result, index) for index in range(result.ntuples)]
    if fetch == 'one':
        return rows[0] if rows else None
    return rows


def call(method, *args):
    # No result from libpq at all (the connection is gone): older psycopg
    # releases say so with a MemoryError.
    try:
        return method(*args)
    except MemoryError as error:
        raise OperationalError(f'no result from libpq: {error}') from error


def as_text(value):
    if value is None:
        return None
    if isinstance(value, str):
        if '\x00' in value:
            # libpq would send it cut at the NUL; psycopg's cursor refuses it too.
            raise DataError('PostgreSQL text cannot contain NUL (0x00) characters')
        return value.encode('utf-8')
    if isinstance(value, bool):
        return b'true' if value else b'false'
    if isinstance(value, int):
        return int.__repr__(value).encode('ascii')
    if isinstance(value, float):
        return float.__repr__(value).encode('ascii')     # reads back exactly
    raise TypeError(f'no text form for {type(value).__name__}')


def row_of(result, index):
    row = []
    for column in range(result.nfields):
        raw = result.get_value(index, column)
        if raw is None:
            row.append(None)
            continue
        reader = READERS.get(result.ftype(column))
        if reader is None:
            raise TypeError(f'no reader for type oid {result.ftype(column)}')
        row.append(reader(raw))
    return tuple(row)


def checked(result):
    """``result``, or the DBAPI error its failure is (psycopg's class for its SQLSTATE)."""
    if result.status in OK:
        return result
    message = (result.error_message or b'').decode('utf-8', 'replace').strip()
    sqlstate = result.error_field(SQLSTATE)
    if sqlstate is None:
        raise OperationalError(message or 'no answer')      # the connection is gone
    try:
        error = errors.lookup(sqlstate.decode('ascii'))
    except KeyError:
        error = DatabaseError
    raise error(message)
