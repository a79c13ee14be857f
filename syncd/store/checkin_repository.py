"""Store judged check-ins (never rewriting a final one) and read what the store knows of each source's days."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar, cast

from sqlalchemy import Engine, func, select

from syncd.engine.checkin_results import CheckinResult, Outcome
from syncd.store.checkin_models import CHECKIN_RESULTS
from syncd.store.database import storage_errors
from syncd.store.dialect import dialect_insert
from syncd.store.models import BACKFILL_PROGRESS, DAILY_COUNTS, SOURCE_STATE

T = TypeVar("T")

__all__ = ["SAVE_BATCH", "StoredCoverage", "load_checkin_results", "load_stored_coverage", "save_checkin_results"]

SAVE_BATCH = 2_000  # results per executemany in save_checkin_results (and per write of the daemon's)
_READ = (
    "goal_key", "level", "checkpoint", "period", "first_day", "last_day", "target", "value", "unknown_days",
    "outcome", "final",
)  # fmt: skip
_UPDATED = ("period", "first_day", "last_day", "target", "value", "unknown_days", "outcome", "final", "updated_at")


@dataclass(frozen=True)
class StoredCoverage:
    """A source's first known day (stored count or backfill start) and its cursor."""

    first_day: date | None
    cursor_end: datetime | None


def save_checkin_results(engine: Engine, results: Sequence[CheckinResult], at: datetime) -> None:
    """Upsert judged check-ins; a row already final is left as it is, whatever the new judgement says."""
    if not results:
        return
    with storage_errors(engine, "save check-in results"), engine.begin() as connection:
        statement = dialect_insert(connection, CHECKIN_RESULTS)
        upsert = statement.on_conflict_do_update(
            index_elements=["goal_key", "level", "checkpoint"],
            set_={name: statement.excluded[name] for name in _UPDATED},
            # The guard is in the statement, so two writers can never unfreeze a final result.
            where=CHECKIN_RESULTS.c.final == 0,
        )
        # In slices, one transaction: the first judging of 10,000 goals stores 45,000 results, and
        # their parameter dicts all at once were ~30 MB of the daemon's peak.
        for start in range(0, len(results), SAVE_BATCH):
            connection.execute(upsert, [_row(r, at) for r in results[start : start + SAVE_BATCH]])


def _row(r: CheckinResult, at: datetime) -> dict[str, object]:
    return {
        "goal_key": r.goal_key,
        "level": r.level,
        "checkpoint": r.checkpoint,
        "period": r.period,
        "first_day": r.first_day,
        "last_day": r.last_day,
        "target": r.target,
        "value": r.value,
        "unknown_days": r.unknown_days,
        "outcome": r.outcome,
        "final": int(r.final),
        "updated_at": at,
    }


def load_checkin_results(
    engine: Engine, *, reuse: Callable[[CheckinResult], CheckinResult] | None = None
) -> list[CheckinResult]:
    """Return every stored check-in result, by goal, level and first day.

    `reuse` may hand back an equal result the caller already holds, kept instead of the one read:
    row by row, so 50,000 results are never in memory twice.
    """
    columns = [CHECKIN_RESULTS.c[name] for name in _READ]
    query = select(*columns).order_by(CHECKIN_RESULTS.c.goal_key, CHECKIN_RESULTS.c.level, CHECKIN_RESULTS.c.first_day)
    # The daemon holds every result (45,000 at 10,000 goals): the texts and days they repeat (a
    # goal's key, its check-in ids, levels, outcomes) are one object each, not one per row.
    shared: dict[object, object] = {}

    def one(value: T) -> T:
        return cast(T, shared.setdefault(value, value))

    out: list[CheckinResult] = []
    with storage_errors(engine, "read check-in results"), engine.connect() as connection:
        for row in connection.execution_options(yield_per=10_000).execute(query):
            kpi, owner = [*row.goal_key.split("|", 2), "", ""][:2]
            result = CheckinResult(
                goal_key=one(row.goal_key),
                kpi=one(kpi),
                owner=one(owner),
                level=one(row.level),
                checkpoint=one(row.checkpoint),
                period=one(row.period),
                first_day=one(row.first_day),
                last_day=one(row.last_day),
                target=row.target,
                value=row.value,
                unknown_days=row.unknown_days,
                outcome=one(cast(Outcome, row.outcome)),
                final=bool(row.final),
            )
            out.append(result if reuse is None else reuse(result))
    return out


def load_stored_coverage(engine: Engine) -> dict[str, StoredCoverage]:
    """Return, per source, the first day the store knows and the cursor of its last full window."""
    with storage_errors(engine, "read source coverage"), engine.connect() as connection:
        stored = dict(
            connection.execute(
                select(DAILY_COUNTS.c.source, func.min(DAILY_COUNTS.c.day)).group_by(DAILY_COUNTS.c.source)
            ).all()
        )
        backfilled = dict(
            connection.execute(
                select(BACKFILL_PROGRESS.c.source, func.min(BACKFILL_PROGRESS.c.since)).group_by(
                    BACKFILL_PROGRESS.c.source
                )
            ).all()
        )
        cursors = dict(connection.execute(select(SOURCE_STATE.c.source, SOURCE_STATE.c.cursor_end)).all())
    out: dict[str, StoredCoverage] = {}
    for source in {*stored, *backfilled, *cursors}:
        firsts = [day for day in (stored.get(source), backfilled.get(source)) if day is not None]
        out[source] = StoredCoverage(first_day=min(firsts) if firsts else None, cursor_end=cursors.get(source))
    return out
