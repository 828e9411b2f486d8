"""Alembic environment: the engine is handed in by store.db.migrate."""

from alembic import context

from store.models import Base

config = context.config
engine = config.attributes.get("engine")
target_metadata = Base.metadata


def run_migrations_online() -> None:
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
