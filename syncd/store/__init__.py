"""syncd's storage: daily counts and per-source sync state in SQLite or PostgreSQL.

`create_engine_for` makes the engine, `upgrade` applies the Alembic migrations, and the
repository functions read and write; every database failure surfaces as `StorageError`.
"""

from syncd.store.database import create_engine_for, ping, upgrade
from syncd.store.repository import (
    SourceState,
    load_daily_counts,
    load_source_states,
    record_failure,
    save_sync,
)

__all__ = [
    "SourceState",
    "create_engine_for",
    "load_daily_counts",
    "load_source_states",
    "ping",
    "record_failure",
    "save_sync",
    "upgrade",
]
