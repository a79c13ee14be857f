"""Prune rows that serve only for a while, one small batch per short transaction.

Each call deletes at most `limit` rows and commits, so a sync's write waits for one batch at
most (on SQLite a write transaction holds the whole file). The caller (syncd.run.retention)
pauses between batches to let other writers in.

Pruning is idempotent and safe to run from several replicas at once: on PostgreSQL the rows a
batch deletes are locked with `FOR UPDATE SKIP LOCKED`, so two pruners take different rows and
neither waits on the other, nor on a push holding a receipt it is claiming. Only those rows: a
goal version looked at and kept is never locked, so a writer touching it does not wait.

What is never deleted here: daily counts (the data), and the goal version in force
(`effective_to` null). Which replaced versions check-ins still need is the caller's to say
(`keep_from`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, and_, bindparam, delete, or_, select, tuple_

from syncd.store.database import storage_errors
from syncd.store.models import GOAL_VERSIONS
from syncd.store.push_models import PUSH_RECEIPTS

__all__ = ["BATCH_ROWS", "VersionBatch", "VersionCursor", "prune_goal_versions", "prune_push_receipts"]

# Rows per transaction: a few milliseconds of a write lock on SQLite, far below a sync's patience.
BATCH_ROWS = 1_000


VersionCursor = tuple[str, datetime]  # the last (goal_key, effective_from) a batch looked at


def prune_push_receipts(engine: Engine, *, older_than: datetime, limit: int = BATCH_ROWS) -> int:
    """Delete up to `limit` push receipts applied before `older_than`, oldest first; return how many.

    A key whose receipt is gone counts again if it is ever pushed again: `older_than` is the
    idempotency window the configuration promises.
    """
    _check_aware(older_than)
    oldest = (
        select(PUSH_RECEIPTS.c.source, PUSH_RECEIPTS.c.key)
        .where(PUSH_RECEIPTS.c.applied_at < older_than)
        .order_by(PUSH_RECEIPTS.c.applied_at)
        .limit(limit)
    )
    with storage_errors(engine, "prune push receipts"), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            oldest = oldest.with_for_update(skip_locked=True)
        # One statement (row values IN a subquery, on both databases): no round trip per row.
        deleted = connection.execute(
            delete(PUSH_RECEIPTS).where(
                tuple_(PUSH_RECEIPTS.c.source, PUSH_RECEIPTS.c.key).in_(oldest.scalar_subquery())
            )
        ).rowcount
    return int(deleted)


@dataclass(frozen=True)
class VersionBatch:
    """What one batch of goal-version pruning did, and where the next batch starts (None: done)."""

    deleted: int
    after: VersionCursor | None


def prune_goal_versions(
    engine: Engine,
    *,
    older_than: datetime,
    keep_from: Mapping[str, datetime],
    owns: Callable[[str], bool] | None = None,
    after: VersionCursor | None = None,
    limit: int = BATCH_ROWS,
) -> VersionBatch:
    """Delete replaced goal versions that ended before `older_than`, looking at `limit` rows past `after`.

    A version of a goal in `keep_from` is kept while it was in force at or after that instant
    (the check-ins still judged read it); `owns` False leaves a goal to the shard that owns it.
    Rows are visited in primary-key order, so kept rows are not looked at again in this round.
    """
    _check_aware(older_than)
    columns = GOAL_VERSIONS.c
    candidates = (
        select(columns.goal_key, columns.effective_from, columns.effective_to)
        .where(columns.effective_to.is_not(None), columns.effective_to < older_than)
        .order_by(columns.goal_key, columns.effective_from)
        .limit(limit)
    )
    if after is not None:
        key, start = after
        candidates = candidates.where(
            or_(columns.goal_key > key, and_(columns.goal_key == key, columns.effective_from > start))
        )
    with storage_errors(engine, "prune goal versions"), engine.begin() as connection:
        # Read without a lock: most rows looked at may be kept, and a writer must not wait for them.
        rows = connection.execute(candidates).all()
        doomed = [
            (row.goal_key, row.effective_from)
            for row in rows
            if (owns is None or owns(row.goal_key))
            and (row.goal_key not in keep_from or row.effective_to <= keep_from[row.goal_key])
        ]
        deleted = _delete_versions(connection, doomed) if doomed else 0
    last = (rows[-1].goal_key, rows[-1].effective_from) if len(rows) == limit else None
    return VersionBatch(deleted=deleted, after=last)


def _delete_versions(connection: Connection, doomed: list[tuple[str, datetime]]) -> int:
    """Delete these replaced versions; on PostgreSQL lock only them, passing over any another pruner holds."""
    columns = GOAL_VERSIONS.c
    if connection.dialect.name != "postgresql":
        # SQLite: the write transaction holds the whole file, so there is nothing finer to lock.
        return int(
            connection.execute(
                delete(GOAL_VERSIONS).where(
                    columns.goal_key == bindparam("k"),
                    columns.effective_from == bindparam("f"),
                    columns.effective_to.is_not(None),  # never the version in force, whatever happened meanwhile
                ),
                [{"k": key, "f": start} for key, start in doomed],
            ).rowcount
        )
    key = tuple_(columns.goal_key, columns.effective_from)
    locked = (
        select(columns.goal_key, columns.effective_from)
        .where(key.in_(doomed), columns.effective_to.is_not(None))
        .with_for_update(skip_locked=True)
    )
    return int(connection.execute(delete(GOAL_VERSIONS).where(key.in_(locked.scalar_subquery()))).rowcount)


def _check_aware(instant: datetime) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("naive datetime: syncd stores aware datetimes only")
