"""Backfill progress: the last day a backfill from a given day has stored, per source."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Engine, select

from syncd.store.database import storage_errors
from syncd.store.dialect import dialect_insert
from syncd.store.models import BACKFILL_PROGRESS

__all__ = ["backfill_done_through", "save_backfill_progress"]


def backfill_done_through(engine: Engine, source: str, since: date) -> date | None:
    """Return the last day a backfill of `source` from `since` has stored, or None."""
    query = select(BACKFILL_PROGRESS.c.done_through).where(
        BACKFILL_PROGRESS.c.source == source, BACKFILL_PROGRESS.c.since == since
    )
    with storage_errors(engine, "read backfill progress"), engine.connect() as connection:
        return connection.execute(query).scalar_one_or_none()


def save_backfill_progress(engine: Engine, source: str, since: date, done_through: date, at: datetime) -> None:
    """Record that the backfill of `source` from `since` has stored every day through `done_through`."""
    with storage_errors(engine, "save backfill progress"), engine.begin() as connection:
        statement = dialect_insert(connection, BACKFILL_PROGRESS).values(
            source=source, since=since, done_through=done_through, updated_at=at
        )
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=["source", "since"],
                set_={"done_through": statement.excluded.done_through, "updated_at": statement.excluded.updated_at},
            )
        )
