"""The dialect's own INSERT, for its ON CONFLICT: syncd stores to SQLite and PostgreSQL only."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite

from syncd.errors import StorageError

__all__ = ["dialect_insert", "insert_for"]


def dialect_insert(bind: Engine | Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """Return an INSERT into `table` in the dialect `bind` speaks."""
    return insert_for(bind.dialect.name, table)


def insert_for(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """Return an INSERT into `table` in `dialect` (a dialect's name), for statements built once per dialect."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise StorageError(f"unsupported database dialect {dialect!r}")
