"""Running one compiled statement (sql.Statement) on a psycopg connection,
through psycopg's libpq wrapper (``psycopg.pq``, public API), not its cursor.

The statement is prepared once per connection
and each run is one ``PQexecPrepared``: a blocking call that releases the GIL
once for the whole round trip. psycopg's cursor drives the same protocol from
Python, in non-blocking steps, releasing the GIL around each; under a threaded
server each release can cost a context switch, and the steps cost ~60 µs of
Python per statement here (a loopback one-row SELECT: ~70 µs against ~140).

Parameters go as text and the server infers their types from the statement
(the dialect's casts say the rest); results come back as text and are read by
their column's type. Only the types our statements use: a new one fails loudly.
"""
from psycopg import DatabaseError, DataError, OperationalError, errors, pq

OK = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK)
SQLSTATE = pq.DiagnosticField.SQLSTATE

# Type oids (pg_type) -> how to read the text form; strings (text, varchar) by default.
BOOL, INT8, INT2, INT4, FLOAT4, FLOAT8 = 16, 20, 21, 23, 700, 701
READERS = {BOOL: lambda raw: raw == b't', INT8: int, INT2: int, INT4: int,
           FLOAT4: float, FLOAT8: float}


def run_statement(connection, prepared, statement, values, fetch):
    """``prepared``: the names already prepared on ``connection``."""
    pgconn = connection.pgconn
    if statement.name not in prepared:
        checked(pgconn.prepare(statement.name, statement.sql.encode('utf-8')))
        prepared.add(statement.name)
    result = checked(pgconn.exec_prepared(
        statement.name, [as_text(values[name]) for name in statement.order or ()]))
    if fetch is None:
        return result.command_tuples or 0
    rows = [row_of(result, index) for index in range(result.ntuples)]
    if fetch == 'one':
        return rows[0] if rows else None
    return rows


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
    if isinstance(value, (int, float)):
        return repr(value).encode('ascii')      # a float's repr reads back exactly
    raise TypeError(f'no text form for {type(value).__name__}')


def row_of(result, index):
    row = []
    for column in range(result.nfields):
        raw = result.get_value(index, column)
        if raw is None:
            row.append(None)
            continue
        reader = READERS.get(result.ftype(column))
        row.append(reader(raw) if reader else raw.decode('utf-8'))
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
