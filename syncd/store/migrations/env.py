"""Alembic's entry point: run the migrations on the connection `syncd.store.upgrade` hands over."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from syncd.store.database import create_engine_for
from syncd.store.models import Base, with_partial_indexes

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=with_partial_indexes(connection.dialect.name),
        compare_type=True,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _database_url() -> str:
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get("SYNCD_DATABASE_URL")
    if not url:
        raise RuntimeError("set SYNCD_DATABASE_URL to run alembic by hand")
    return url


def run_offline() -> None:
    """Print the SQL instead of running it (`alembic upgrade head --sql`)."""
    context.configure(url=_database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate through the caller's connection, or one made from the URL when alembic runs by hand."""
    given = context.config.attributes.get("connection")
    if isinstance(given, Connection):
        _run(given)
        return
    engine = create_engine_for(_database_url())
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
