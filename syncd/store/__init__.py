"""syncd's storage: daily counts and per-source sync state in SQLite or PostgreSQL.

`create_engine_for` makes the engine, `upgrade` applies the Alembic migrations, and the
repository functions read and write; every database failure surfaces as `StorageError`.
"""

# Every table registers on the one MetaData (Base.metadata) when its module is imported: all of them here,
# so create_all and the schema check see them all.
from syncd.store import changes as _changes  # noqa: F401
from syncd.store import checkin_models as _checkin_models  # noqa: F401
from syncd.store import held_reads as _held_reads  # noqa: F401
from syncd.store import leases as _leases  # noqa: F401
from syncd.store import push_models as _push_models  # noqa: F401
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
