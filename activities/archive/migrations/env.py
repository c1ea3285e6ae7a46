"""Alembic runs this for every command. There is no alembic.ini: ArchiveStore.migrate() (or
activities.archive.store.alembic_config) passes an open connection in ``config.attributes``."""

from alembic import context

from activities.archive.store import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations with ArchiveStore(database_url).migrate(), "
        "or pass a connection through activities.archive.store.alembic_config(connection)"
    )

context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
