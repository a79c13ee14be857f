"""Goal versions: what the goals were, and when."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Select, and_, bindparam, func, or_, select, text, update

from syncd.store.database import storage_errors
from syncd.store.dialect import dialect_insert
from syncd.store.models import GOAL_VERSIONS

__all__ = [
    "GoalVersion",
    "StoredVersions",
    "load_goal_versions",
    "record_goal_versions",
    "reload_goal_versions",
]


@dataclass(frozen=True, slots=True)  # one per goal, held by the daemon
class GoalVersion:
    """A goal's definition (JSON text) and when it was in force, `[effective_from, effective_to)`."""

    goal_key: str
    effective_from: datetime
    effective_to: datetime | None
    target: float
    definition: str


def record_goal_versions(
    engine: Engine,
    definitions: Mapping[str, tuple[float, str]],
    at: datetime,
    owns: Callable[[str], bool] | None = None,
) -> int:
    """Open a version for each new or changed goal and close the ones changed or removed; return changes.

    `definitions` maps a goal key to (target, definition JSON). One transaction, so a crash never
    leaves a goal with two open versions or none. `owns` limits closing to this shard's goal keys,
    so one shard never closes another's goals.
    """
    if at.tzinfo is None:
        raise ValueError("naive datetime: syncd stores aware datetimes only")
    with storage_errors(engine, "record goal versions"), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Replicas starting together take turns (a transaction lock, fine behind PgBouncer): the
            # second one sees the first one's versions and writes nothing.
            connection.execute(text("LOCK TABLE goal_versions IN SHARE ROW EXCLUSIVE MODE"))
        open_rows = {
            row.goal_key: row
            for row in connection.execute(
                select(GOAL_VERSIONS.c.goal_key, GOAL_VERSIONS.c.effective_from, GOAL_VERSIONS.c.definition).where(
                    GOAL_VERSIONS.c.effective_to.is_(None)
                )
            )
        }
        # One statement each for all closings and all openings: 10,000 goals at a first start were
        # 10,000 single-row INSERTs, each compiled and executed on its own.
        closed = [
            {"closed_key": key, "closed_from": row.effective_from}
            for key, row in open_rows.items()
            if (owns is None or key in definitions or owns(key))
            and (key not in definitions or definitions[key][1] != row.definition)
        ]
        if closed:
            connection.execute(
                update(GOAL_VERSIONS)
                .where(
                    GOAL_VERSIONS.c.goal_key == bindparam("closed_key"),
                    GOAL_VERSIONS.c.effective_from == bindparam("closed_from"),
                )
                .values(effective_to=at),
                closed,
            )
        opened = [
            {"goal_key": key, "effective_from": at, "effective_to": None, "target": target, "definition": definition}
            for key, (target, definition) in definitions.items()
            if (current := open_rows.get(key)) is None or current.definition != definition
        ]
        if opened:
            connection.execute(dialect_insert(connection, GOAL_VERSIONS), opened)
        changes = len(closed) + len(opened)
    return changes


def load_goal_versions(engine: Engine, at: datetime | None = None) -> list[GoalVersion]:
    """Return every stored version, or only those in force at `at`, oldest first."""
    query = _all_versions()
    if at is not None:
        query = query.where(
            and_(
                GOAL_VERSIONS.c.effective_from <= at,
                or_(GOAL_VERSIONS.c.effective_to.is_(None), GOAL_VERSIONS.c.effective_to > at),
            )
        )
    with storage_errors(engine, "read goal versions"), engine.connect() as connection:
        return _read_versions(connection, query)


def _all_versions() -> Select[Any]:
    return select(GOAL_VERSIONS).order_by(GOAL_VERSIONS.c.goal_key, GOAL_VERSIONS.c.effective_from)


def _read_versions(connection: Connection, query: Select[Any]) -> list[GoalVersion]:
    return [
        GoalVersion(r.goal_key, r.effective_from, r.effective_to, r.target, r.definition)
        for r in connection.execute(query)
    ]


@dataclass(frozen=True, slots=True)
class StoredVersions:
    """Every stored goal version, with the mark of the table they were read at (see reload_goal_versions)."""

    mark: tuple[object, ...]
    versions: list[GoalVersion]


def reload_goal_versions(engine: Engine, held: StoredVersions | None = None) -> StoredVersions:
    """Return every stored version, oldest first by goal: `held` itself while the table has not changed.

    The daemon judges check-ins after every push; reading 10,000 goals' versions each time (their
    definitions' text) was 7 MB of its peak memory for rows equal to the ones it holds. The mark is
    read first, so a change made between the two reads shows as a changed mark next time.
    """
    with storage_errors(engine, "read goal versions"), engine.connect() as connection:
        mark = _versions_mark(connection)
        if held is not None and held.mark == mark:
            return held
        versions = _read_versions(connection, _all_versions())
    return StoredVersions(mark, versions)


def _versions_mark(connection: Connection) -> tuple[object, ...]:
    # What each write does to the table: recording opens versions (the count and the newest start
    # grow) and closes others (the closed count and the newest end grow); retention deletes
    # superseded ones (both counts fall, the oldest start may move).
    columns = GOAL_VERSIONS.c
    row = connection.execute(
        select(
            func.count(),
            func.count(columns.effective_to),
            func.min(columns.effective_from),
            func.max(columns.effective_from),
            func.max(columns.effective_to),
        )
    ).one()
    return tuple(row)
