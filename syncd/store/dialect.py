"""The dialect's own INSERT, for its ON CONFLICT: syncd stores to SQLite and PostgreSQL only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, Table

from syncd.errors import StorageError

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["dialect_insert", "insert_for"]


def dialect_insert(bind: Engine | Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """Return an INSERT into `table` in the dialect `bind` speaks."""
    return insert_for(bind.dialect.name, table)


def insert_for(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """Return an INSERT into `table` in `dialect` (a dialect's name), for statements built once per dialect."""
    # Imported when first asked: SQLAlchemy's postgresql package loads every PostgreSQL driver's
    # dialect (asyncpg, pg8000, psycopg2...), 3 MB of a daemon that stores to SQLite.
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)
    raise StorageError(f"unsupported database dialect {dialect!r}")
