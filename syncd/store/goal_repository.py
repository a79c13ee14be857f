"""Goal versions and check-in results: what the goals were, and how their check-ins ended."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import cast

from sqlalchemy import Engine, Table, and_, or_, select, text, update

from syncd.store.database import storage_errors
from syncd.store.models import CheckpointResultRow, GoalVersionRow
from syncd.store.repository import dialect_insert

__all__ = [
    "CheckpointResult",
    "GoalVersion",
    "load_checkpoint_results",
    "load_goal_versions",
    "record_goal_versions",
    "save_checkpoint_results",
]

_VERSIONS = cast(Table, GoalVersionRow.__table__)
_RESULTS = cast(Table, CheckpointResultRow.__table__)


@dataclass(frozen=True)
class GoalVersion:
    """A goal's definition (JSON text) and when it was in force, `[effective_from, effective_to)`."""

    goal_key: str
    effective_from: datetime
    effective_to: datetime | None
    target: float
    definition: str


@dataclass(frozen=True)
class CheckpointResult:
    """A finished check-in: its span, target, final value and whether it was hit."""

    goal_key: str
    checkpoint: str
    first_day: date
    last_day: date
    target: float
    value: float
    hit: bool


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
    changes = 0
    with storage_errors(engine, "record goal versions"), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Replicas starting together take turns (a transaction lock, fine behind PgBouncer): the
            # second one sees the first one's versions and writes nothing.
            connection.execute(text("LOCK TABLE goal_versions IN SHARE ROW EXCLUSIVE MODE"))
        open_rows = {
            row.goal_key: row
            for row in connection.execute(
                select(GoalVersionRow.goal_key, GoalVersionRow.effective_from, GoalVersionRow.definition).where(
                    GoalVersionRow.effective_to.is_(None)
                )
            )
        }
        for key, row in open_rows.items():
            if owns is not None and key not in definitions and not owns(key):
                continue
            if key not in definitions or definitions[key][1] != row.definition:
                connection.execute(
                    update(GoalVersionRow)
                    .where(GoalVersionRow.goal_key == key, GoalVersionRow.effective_from == row.effective_from)
                    .values(effective_to=at)
                )
                changes += 1
        for key, (target, definition) in definitions.items():
            current = open_rows.get(key)
            if current is not None and current.definition == definition:
                continue
            connection.execute(
                dialect_insert(connection, _VERSIONS).values(
                    goal_key=key, effective_from=at, effective_to=None, target=target, definition=definition
                )
            )
            changes += 1
    return changes


def load_goal_versions(engine: Engine, at: datetime | None = None) -> list[GoalVersion]:
    """Return every stored version, or only those in force at `at`, oldest first."""
    query = select(GoalVersionRow).order_by(GoalVersionRow.goal_key, GoalVersionRow.effective_from)
    if at is not None:
        query = query.where(
            and_(
                GoalVersionRow.effective_from <= at,
                or_(GoalVersionRow.effective_to.is_(None), GoalVersionRow.effective_to > at),
            )
        )
    with storage_errors(engine, "read goal versions"), engine.connect() as connection:
        rows = connection.execute(query).all()
    return [GoalVersion(r.goal_key, r.effective_from, r.effective_to, r.target, r.definition) for r in rows]


def save_checkpoint_results(engine: Engine, results: Sequence[CheckpointResult], at: datetime) -> None:
    """Upsert finished check-ins; late data may still change a value, so a result is rewritten."""
    if not results:
        return
    with storage_errors(engine, "save check-in results"), engine.begin() as connection:
        statement = dialect_insert(connection, _RESULTS)
        rows = [
            {
                "goal_key": r.goal_key,
                "checkpoint": r.checkpoint,
                "first_day": r.first_day,
                "last_day": r.last_day,
                "target": r.target,
                "value": r.value,
                "hit": int(r.hit),
                "updated_at": at,
            }
            for r in results
        ]
        upsert = statement.on_conflict_do_update(
            index_elements=["goal_key", "checkpoint"],
            set_={
                name: statement.excluded[name]
                for name in ("first_day", "last_day", "target", "value", "hit", "updated_at")
            },
        )
        connection.execute(upsert, rows)


def load_checkpoint_results(engine: Engine, goal_key: str | None = None) -> list[CheckpointResult]:
    """Return stored check-in results (of one goal, or all), in order of their first day."""
    query = select(CheckpointResultRow).order_by(CheckpointResultRow.goal_key, CheckpointResultRow.first_day)
    if goal_key is not None:
        query = query.where(CheckpointResultRow.goal_key == goal_key)
    with storage_errors(engine, "read check-in results"), engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        CheckpointResult(r.goal_key, r.checkpoint, r.first_day, r.last_day, r.target, r.value, bool(r.hit))
        for r in rows
    ]
