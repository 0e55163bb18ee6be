"""Alembic environment: run by sessiondemo.scripts.initialize_db (or `alembic`)."""
from alembic import context
from sqlalchemy import engine_from_config, pool

from sessiondemo.models.meta import metadata

config = context.config


def run_migrations(connection):
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == 'sqlite')
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get('connection')
if connection is not None:
    run_migrations(connection)
else:
    engine = engine_from_config(config.get_section(config.config_ini_section),
                                prefix='sqlalchemy.', poolclass=pool.NullPool)
    with engine.connect() as connection:
        run_migrations(connection)
