"""The session store's statements on SQLite without releasing the GIL.

Python's sqlite3 module releases the GIL around every call into SQLite: the
statement's reset, each step, the row's fetch. A one-row SELECT on a page in
memory takes a few µs of SQLite, but under waitress's threads each release
hands the GIL to another thread, and getting it back can cost a context
switch: far more than the statement. Here the same library is called through
``ctypes.PyDLL``, which keeps the GIL for the call, on a connection of the
serving thread's own.

What runs here: a read-only statement's rows, and (``writes``) a write's
count of changed rows when its commit does not wait for the disk
(synchronous=NORMAL; with FULL every commit is an fsync, never to be held
the GIL through). The log's checkpoint, which does wait for the disk, is
not this connection's either: a WAL hook in place of SQLite's automatic one
says when it is due (``checkpoint_due``), and the caller runs it on the
sqlite3 connection, with the GIL released.

It is a fast path and nothing more: any value it would not bind as sqlite3
does, any text that is not UTF-8, any statement that would leave a
transaction open (BEGIN), and a read's error go back to the sqlite3 cursor,
which runs them as before. So does a write that found the database locked
(SQLite changed nothing; the cursor waits, bounded by the busy timeout):
this connection's own busy timeout is 0, so no lock is waited for with the
GIL held. Any other error of a write is raised here, as sqlite3 would raise
it, and never run twice. Writes only in WAL mode: in the others
synchronous=NORMAL still syncs each commit.

The library is the one Python's sqlite3 module is linked to, found through
that module: a second copy of SQLite in the process would not see the first
one's locks on the same file (SQLite's "How To Corrupt", 2.2.1).
"""
import ctypes
import sqlite3

SQLITE_OK, SQLITE_ROW, SQLITE_DONE = 0, 100, 101
# Another connection's lock (extended codes keep the primary one in their low byte).
LOCK_CODES = (5, 6)             # SQLITE_BUSY, SQLITE_LOCKED
SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB, SQLITE_NULL = 1, 2, 3, 4, 5
OPEN_READWRITE, OPEN_NOMUTEX = 0x2, 0x8000
CHECKPOINT_PAGES = 1000         # SQLite's own automatic checkpoint's threshold
PREPARE_PERSISTENT = 0x01
TRANSIENT = ctypes.c_void_p(-1)          # SQLite copies what it is given
INT64 = (-2 ** 63, 2 ** 63 - 1)
MAX_BYTES = 2 ** 31 - 1         # a text or blob's length is a C int
DML = ('INSERT', 'UPDATE', 'DELETE', 'REPLACE')
DBCONFIG_NO_CKPT_ON_CLOSE = 1006


def _load():
    """sqlite3's own SQLite (its extension module's symbols and those of the
    library it links), or None: SQLite linked in without them, or older than
    3.20."""
    try:
        import _sqlite3
        lib = ctypes.PyDLL(_sqlite3.__file__)
        lib.sqlite3_prepare_v3
        if lib.sqlite3_libversion_number() != sqlite3.sqlite_version_info[0] * 1000000 + \
                sqlite3.sqlite_version_info[1] * 1000 + sqlite3.sqlite_version_info[2]:
            return None
    except (ImportError, OSError, AttributeError):
        return None
    p, i, i64, d, s = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_double, ctypes.c_char_p
    for function, restype, argtypes in [
        ('sqlite3_open_v2', i, [s, ctypes.POINTER(p), i, s]),
        ('sqlite3_close_v2', i, [p]),
        ('sqlite3_prepare_v3', i, [p, s, i, ctypes.c_uint, ctypes.POINTER(p), ctypes.POINTER(p)]),
        ('sqlite3_finalize', i, [p]),
        ('sqlite3_stmt_readonly', i, [p]),
        ('sqlite3_reset', i, [p]),
        ('sqlite3_bind_int64', i, [p, i, i64]),
        ('sqlite3_bind_double', i, [p, i, d]),
        ('sqlite3_bind_text', i, [p, i, s, i, p]),
        ('sqlite3_bind_blob', i, [p, i, s, i, p]),
        ('sqlite3_bind_null', i, [p, i]),
        ('sqlite3_step', i, [p]),
        ('sqlite3_column_count', i, [p]),
        ('sqlite3_column_type', i, [p, i]),
        ('sqlite3_column_int64', i64, [p, i]),
        ('sqlite3_column_double', d, [p, i]),
        ('sqlite3_column_blob', p, [p, i]),
        ('sqlite3_column_text', p, [p, i]),
        ('sqlite3_column_bytes', i, [p, i]),
        ('sqlite3_changes', i, [p]),
        ('sqlite3_bind_parameter_count', i, [p]),
        ('sqlite3_get_autocommit', i, [p]),
        ('sqlite3_extended_errcode', i, [p]),
        ('sqlite3_errmsg', s, [p]),
        ('sqlite3_exec', i, [p, s, p, p, p]),
        ('sqlite3_wal_hook', p, [p, p, p]),
        ('sqlite3_trace_v2', i, [p, ctypes.c_uint, p, p]),
        ('sqlite3_expanded_sql', p, [p]),
        ('sqlite3_free', None, [p]),
    ]:
        f = getattr(lib, function)
        f.restype, f.argtypes = restype, argtypes
    return lib


LIB = _load()
TRACE_STMT = 0x01
TRACER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
                          ctypes.c_void_p)
WAL_HOOK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p,
                            ctypes.c_int)
_OPENED = []        # listen()'s callbacks


def available():
    return LIB is not None


def listen(callback):
    """``callback(path, connection)`` for every DirectConnection opened from
    now on, as SQLAlchemy's ``connect`` event is for the engine's: where a
    statement counter sets ``connection.trace``."""
    _OPENED.append(callback)


def unlisten(callback):
    if callback in _OPENED:
        _OPENED.remove(callback)


def _pragma(handle, sql):
    """A pragma's one value, as bytes (None: no answer)."""
    stmt = ctypes.c_void_p()
    try:
        if LIB.sqlite3_prepare_v3(handle, sql, len(sql), 0, ctypes.byref(stmt), None) \
                != SQLITE_OK or LIB.sqlite3_step(stmt) != SQLITE_ROW:
            return None
        pointer = LIB.sqlite3_column_text(stmt, 0)
        return ctypes.string_at(pointer).lower() if pointer else None
    finally:
        LIB.sqlite3_finalize(stmt)


class DirectConnection:
    """One thread's SQLite connection, or ``None`` from ``open`` when it
    cannot be had (no library, no file)."""

    def __init__(self, handle, writes):
        self._handle = handle
        self._writes = writes
        # Statement.name -> (stmt pointer, read-only, parameters), or None: the cursor's.
        self._statements = {}
        self._due = due = [False]       # not self: no cycle keeps the connection open
        if writes:
            def on_commit(context, handle, database, pages):
                if pages >= CHECKPOINT_PAGES:
                    due[0] = True
                return SQLITE_OK
            # In place of the automatic checkpoint (a hook replaces it).
            self._wal_hook = WAL_HOOK(on_commit)
            LIB.sqlite3_wal_hook(handle, ctypes.cast(self._wal_hook, ctypes.c_void_p), None)

    @classmethod
    def open(cls, path, writes=False):
        """``writes``: run writes too, their commits not waiting for the disk."""
        if LIB is None:
            return None
        handle = ctypes.c_void_p()
        # No SQLITE_OPEN_CREATE: a file that is not there is the cursor's business.
        if LIB.sqlite3_open_v2(path.encode(), ctypes.byref(handle),
                               OPEN_READWRITE | OPEN_NOMUTEX, None) != SQLITE_OK:
            LIB.sqlite3_close_v2(handle)
            return None
        # Closing the last connection to the file would checkpoint (the
        # disk): the sqlite3 connections' business.
        LIB.sqlite3_db_config(handle, ctypes.c_int(DBCONFIG_NO_CKPT_ON_CLOSE), ctypes.c_int(1),
                              ctypes.c_void_p(None))
        writes = writes and _pragma(handle, b'PRAGMA journal_mode') == b'wal' and \
            LIB.sqlite3_exec(handle, b'PRAGMA synchronous=NORMAL', None, None, None) == SQLITE_OK
        connection = cls(handle, writes)
        for callback in _OPENED:
            callback(path, connection)
        return connection

    def trace(self, callback):
        """``callback(sql)`` with every statement this connection runs, as
        sqlite3's ``set_trace_callback`` gives it (its values filled in)."""
        def on_statement(kind, context, stmt, unexpanded):
            text = LIB.sqlite3_expanded_sql(stmt)
            if text:
                try:
                    callback(ctypes.string_at(text).decode())
                finally:
                    LIB.sqlite3_free(text)
            return 0
        self._tracer = TRACER(on_statement)     # kept alive as long as the connection
        LIB.sqlite3_trace_v2(self._handle, TRACE_STMT,
                             ctypes.cast(self._tracer, ctypes.c_void_p), None)

    def checkpoint_due(self):
        """Whether the log has grown past SQLite's threshold since the last
        call said so: a checkpoint is the caller's to run."""
        due = self._due
        if due[0]:
            due[0] = False
            return True
        return False

    def _prepare(self, statement):
        """(stmt, read-only, parameters); None: the cursor's; False: it did
        not compile (a table not made yet?), to try again next time."""
        stmt = ctypes.c_void_p()
        sql = statement.sql.encode()
        if LIB.sqlite3_prepare_v3(self._handle, sql, len(sql), PREPARE_PERSISTENT,
                                  ctypes.byref(stmt), None) != SQLITE_OK or not stmt:
            LIB.sqlite3_finalize(stmt)
            return False
        read_only = bool(LIB.sqlite3_stmt_readonly(stmt))
        if not read_only and not (self._writes and statement.sql.lstrip().upper().startswith(DML)):
            LIB.sqlite3_finalize(stmt)
            return None
        return stmt, read_only, LIB.sqlite3_bind_parameter_count(stmt)

    def run(self, statement, values, fetch):
        """The rows as sqlite3 gives them (``fetch`` 'one' or 'all') of a
        read-only statement, the number of rows a write changed (``fetch``
        None), or ``NotImplemented``: the cursor's to run."""
        statements = self._statements
        prepared = statements.get(statement.name)
        if prepared is None and statement.name not in statements:
            prepared = self._prepare(statement)
            if prepared is False:
                return NotImplemented
            statements[statement.name] = prepared
        # A write's rows (RETURNING) and a read's "rows changed" are sqlite3's.
        if prepared is None or prepared[1] != (fetch is not None):
            return NotImplemented
        stmt, _, parameters = prepared
        params = statement.params(values)
        if type(params) is not tuple or len(params) != parameters:
            return NotImplemented           # named parameters: the cursor's
        lib = LIB
        handle = self._handle
        try:
            if not self._bind(stmt, params):
                return NotImplemented
            rows = []
            step, column_count = lib.sqlite3_step, lib.sqlite3_column_count
            while True:
                code = step(stmt)
                if code == SQLITE_DONE:
                    break
                if code != SQLITE_ROW:
                    if fetch is None and code & 0xFF not in LOCK_CODES:
                        raise self._error()     # maybe after its commit: never run twice
                    return NotImplemented
                rows.append(tuple(self._column(stmt, index)
                                  for index in range(column_count(stmt))))
                if fetch == 'one':
                    break
        except UnicodeDecodeError:
            return NotImplemented          # the cursor says it as sqlite3 does
        finally:
            lib.sqlite3_reset(stmt)        # ends the read transaction: no snapshot kept
            if not lib.sqlite3_get_autocommit(handle):
                # It began a transaction (BEGIN, SAVEPOINT): undone, and the cursor's.
                lib.sqlite3_exec(handle, b'ROLLBACK', None, None, None)
                statements[statement.name] = None
                rows = NotImplemented
        if rows is NotImplemented:
            return NotImplemented
        if fetch is None:
            return lib.sqlite3_changes(self._handle)
        if fetch == 'one':
            return rows[0] if rows else None
        return rows

    def _error(self):
        """sqlite3's exception for this connection's last error."""
        error = sqlite3.OperationalError((LIB.sqlite3_errmsg(self._handle) or b'').decode(
            errors='replace'))
        error.sqlite_errorcode = LIB.sqlite3_extended_errcode(self._handle)
        return error

    @staticmethod
    def _bind(stmt, params):
        lib = LIB
        for index, value in enumerate(params, 1):
            kind = type(value)
            if kind is str:
                try:
                    raw = value.encode()
                except UnicodeEncodeError:
                    return False
                if len(raw) > MAX_BYTES:
                    return False
                code = lib.sqlite3_bind_text(stmt, index, raw, len(raw), TRANSIENT)
            elif kind is int or kind is bool:
                if not INT64[0] <= value <= INT64[1]:
                    return False
                code = lib.sqlite3_bind_int64(stmt, index, value)
            elif kind is float:
                code = lib.sqlite3_bind_double(stmt, index, value)
            elif value is None:
                code = lib.sqlite3_bind_null(stmt, index)
            elif kind is bytes:
                if len(value) > MAX_BYTES:
                    return False
                code = lib.sqlite3_bind_blob(stmt, index, value, len(value), TRANSIENT)
            else:
                return False
            if code != SQLITE_OK:
                return False
        return True

    @staticmethod
    def _column(stmt, index):
        lib = LIB
        kind = lib.sqlite3_column_type(stmt, index)
        if kind == SQLITE_INTEGER:
            return lib.sqlite3_column_int64(stmt, index)
        if kind == SQLITE_FLOAT:
            return lib.sqlite3_column_double(stmt, index)
        if kind == SQLITE_TEXT:
            pointer = lib.sqlite3_column_text(stmt, index)
            return ctypes.string_at(pointer, lib.sqlite3_column_bytes(stmt, index)).decode() \
                if pointer else ''
        if kind == SQLITE_BLOB:
            pointer = lib.sqlite3_column_blob(stmt, index)
            return ctypes.string_at(pointer, lib.sqlite3_column_bytes(stmt, index)) \
                if pointer else b''
        return None

    def close(self):
        handle, self._handle = self._handle, None
        if handle is None or LIB is None:
            return
        for prepared in self._statements.values():
            if prepared:
                LIB.sqlite3_finalize(prepared[0])
        self._statements = {}
        LIB.sqlite3_close_v2(handle)

    __del__ = close
