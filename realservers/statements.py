"""Counting the SQL statements an engine's connections send, where they leave.

The app runs its per-request statements on bare DBAPI cursors, which
SQLAlchemy's events never see; so this hooks the driver: SQLite's own trace
of the statements it runs, and a counting cursor class for psycopg. Only
connections made after the call are counted: it empties the engine's pool.
"""
from sqlalchemy import event


def record_statements(engine, keep=lambda sql: True):
    """A list that fills with the text of every statement ``keep`` accepts."""
    statements = []

    def on_connect(dbapi_connection, connection_record):
        if engine.dialect.name == 'sqlite':
            dbapi_connection.set_trace_callback(
                lambda sql: statements.append(sql) if keep(sql) else None)
            return
        base = dbapi_connection.cursor_factory

        class CountingCursor(base):
            def execute(self, query, *args, **kwargs):
                text = query if isinstance(query, str) else str(query)
                if keep(text):
                    statements.append(text)
                return super().execute(query, *args, **kwargs)
        dbapi_connection.cursor_factory = CountingCursor

    event.listen(engine, 'connect', on_connect)
    engine.dispose()
    return statements
