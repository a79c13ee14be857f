"""Reads and writes of daily counts and source state; synchronous, called through syncd.store.executor.run_db."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, String, and_, bindparam, case, select, tuple_, type_coerce

from connectors.base import DailyCount
from syncd.engine.day_values import DayValues, DayValuesBuilder
from syncd.errors import StorageError
from syncd.store.changes import ChangedKey, DaySpan, note_changes, spans_of
from syncd.store.count_writes import CountKey, delete_counts, upsert_counts
from syncd.store.coverage_repository import extend_coverage
from syncd.store.database import storage_errors
from syncd.store.dialect import dialect_insert, insert_for
from syncd.store.held_reads import SuspectDay, hold_lowered_reads
from syncd.store.leases import Fence, check_fence
from syncd.store.models import DAILY_COUNTS, SOURCE_STATE

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

__all__ = [
    "SourceState",
    "load_daily_counts",
    "load_source_states",
    "record_failure",
    "save_sync",
]


_CountKey = CountKey  # (metric, subject, day) within one source


@dataclass(frozen=True)
class SourceState:
    """What the store remembers about one source between syncs."""

    source: str
    cursor_end: datetime | None  # the end of the last window fully read; None before a first success
    connector_state: Mapping[str, str]
    last_success_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None
    consecutive_failures: int


def save_sync(
    engine: Engine,
    *,
    source: str,
    metrics: Sequence[str],
    counts: Sequence[DailyCount],
    replace_from: date,
    replace_to: date,
    cursor_end: datetime,
    connector_state: Mapping[str, str],
    finished_at: datetime,
    fence: Fence | None = None,
    held: list[SuspectDay] | None = None,
) -> int:
    """Store one successful sync's counts and cursor in one transaction; return how many rows changed.

    Every count is upserted on (source, metric, subject, day). Rows of `source` and `metrics` in
    the inclusive range [replace_from, replace_to] that are not in `counts` are deleted: the vendor
    no longer reports them. A row counts as changed when inserted, updated to another value, or
    deleted, so the caller can skip recomputing when nothing moved. With a `fence` (replicas on
    PostgreSQL) the transaction first checks the lease and raises LeaseLost, writing nothing.

    With `held` (a list to fill), a single read never lowers or deletes a stored count: those
    days keep their value until a second read agrees (`syncd.store.held_reads`), and are appended.
    """
    _require_aware(cursor_end=cursor_end, finished_at=finished_at)
    incoming = _index_counts(counts, metrics)
    days = {key[2] for key in incoming}
    first, last = min(days | {replace_from}), max(days | {replace_to})
    with storage_errors(engine, f"save the sync of {source}"), engine.begin() as connection:
        if fence is not None:
            check_fence(connection, fence, finished_at)
        existing = _existing_values(connection, source, metrics, first, last)
        stale = [key for key in existing if key not in incoming and replace_from <= key[2] <= replace_to]
        if held is not None:
            outcome = hold_lowered_reads(
                connection,
                source=source,
                metrics=metrics,
                existing=existing,
                incoming=incoming,
                stale=stale,
                first=first,
                last=last,
                at=finished_at,
            )
            incoming, stale = outcome.incoming, outcome.stale
            held.extend(outcome.held)
        # Into an empty range (a first sync, a backfill) every count moves: no per-row lookups.
        moved = list(incoming) if not existing else [k for k, v in incoming.items() if existing.get(k) != v]
        changed = len(moved)
        upsert_counts(connection, source, incoming, finished_at)
        delete_counts(connection, source, stale)
        connection.execute(
            _success_upsert(connection.dialect.name),
            {
                "source": source,
                "cursor_end": cursor_end,
                "connector_state": json.dumps(dict(connector_state), sort_keys=True),
                "last_success_at": finished_at,
                "last_attempt_at": finished_at,
                "last_error": None,
                "consecutive_failures": 0,
            },
        )
        extend_coverage(connection, source, replace_from, replace_to)
        # Last: other processes (a running daemon, replicas) learn what to re-read from it.
        note_changes(connection, _changed_spans(source, moved, stale), finished_at)
    return changed + len(stale)


def record_failure(engine: Engine, *, source: str, error: str, at: datetime, fence: Fence | None = None) -> None:
    """Record a failed attempt: its time and error, one more consecutive failure; cursor and counts stay.

    With a `fence`, a replica that lost the source's lease records nothing (LeaseLost).
    """
    _require_aware(at=at)
    insert = dialect_insert(engine, SOURCE_STATE)
    statement = insert.values(
        source=source,
        cursor_end=None,
        connector_state="{}",
        last_success_at=None,
        last_attempt_at=at,
        last_error=error,
        consecutive_failures=1,
    ).on_conflict_do_update(
        index_elements=[SOURCE_STATE.c.source],
        set_={
            "last_attempt_at": insert.excluded.last_attempt_at,
            "last_error": insert.excluded.last_error,
            "consecutive_failures": SOURCE_STATE.c.consecutive_failures + 1,
        },
    )
    with storage_errors(engine, f"record the failure of {source}"), engine.begin() as connection:
        if fence is not None:
            check_fence(connection, fence, at)
        connection.execute(statement)


def load_source_states(engine: Engine, only: Sequence[str] | None = None) -> dict[str, SourceState]:
    """Return the stored state of every source (or of those in `only`) that has synced or failed at least once.

    A sync asks for its own source only: reading every source's row per sync grows with the square
    of the number of sources.
    """
    with storage_errors(engine, "load source states"), engine.connect() as connection:
        if only is None:
            rows = connection.execute(select(SOURCE_STATE)).all()
        else:
            rows = connection.execute(_STATES_OF, {"only": list(only)}).all()
    return {
        row.source: SourceState(
            source=row.source,
            cursor_end=row.cursor_end,
            connector_state=_parse_connector_state(row.source, row.connector_state),
            last_success_at=row.last_success_at,
            last_attempt_at=row.last_attempt_at,
            last_error=row.last_error,
            consecutive_failures=row.consecutive_failures,
        )
        for row in rows
    }


def load_daily_counts(
    engine: Engine,
    *,
    keys: Sequence[tuple[str, str]],
    first_day: date,
    last_day: date,
) -> dict[tuple[str, str], dict[str, DayValues]]:
    """Return subject -> day -> value for each (source, metric) in `keys`, days in [first_day, last_day].

    Every requested key is present in the answer, with an empty mapping when nothing is stored.
    """
    result: dict[tuple[str, str], dict[str, DayValues]] = {key: {} for key in keys}
    if not result or first_day > last_day:
        return result
    # The day as the driver gives it: SQLite's text is parsed once per distinct day below, not by
    # the Date type once per row (the largest part of re-reading 100,000 counts).
    raw_day = type_coerce(DAILY_COUNTS.c.day, String)
    statement = select(
        DAILY_COUNTS.c.source, DAILY_COUNTS.c.metric, DAILY_COUNTS.c.subject, raw_day, DAILY_COUNTS.c.value
    ).where(
        tuple_(DAILY_COUNTS.c.source, DAILY_COUNTS.c.metric).in_(list(result)),
        DAILY_COUNTS.c.day >= first_day,
        DAILY_COUNTS.c.day <= last_day,
    )
    # Read in batches into 16 bytes a count (DayValuesBuilder), never a dict entry, a date and a float
    # per count: at 10,000 goals and a quarter of counts those (and all the rows fetched at once)
    # made most of the daemon's peak.
    ordinals: dict[object, int] = {}
    builders: dict[tuple[str, str], dict[str, DayValuesBuilder]] = {key: {} for key in result}
    with storage_errors(engine, "load daily counts"), engine.connect() as connection:
        rows = connection.execution_options(yield_per=_READ_BATCH).execute(statement)
        for source, metric, subject, stored_day, value in rows:
            ordinal = ordinals.get(stored_day)
            if ordinal is None:
                ordinal = ordinals[stored_day] = _as_date(stored_day).toordinal()
            by_subject = builders[(source, metric)]
            builder = by_subject.get(subject)
            if builder is None:
                builder = by_subject[subject] = DayValuesBuilder()
            builder.add(ordinal, value)
    for key, by_subject in builders.items():
        result[key] = {subject: builder.build() for subject, builder in by_subject.items()}
        by_subject.clear()  # a key's builders go once its subjects are built, before the next key's
    return result


def _as_date(stored: object) -> date:
    # PostgreSQL's driver gives a date, SQLite the ISO text SQLAlchemy's Date type writes.
    return stored if isinstance(stored, date) else date.fromisoformat(str(stored))


_READ_BATCH = 10_000  # rows fetched at a time by load_daily_counts


def _require_aware(**instants: datetime) -> None:
    for name, instant in instants.items():
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError(f"{name} is a naive datetime: syncd stores aware datetimes only")


def _index_counts(counts: Sequence[DailyCount], metrics: Sequence[str]) -> dict[_CountKey, float]:
    # Comprehensions, not a checking loop: a year of 10,000 series is 3.65 million counts.
    indexed = {(count.metric, count.subject, count.day): count.value for count in counts}
    undeclared = {key[0] for key in indexed}.difference(metrics)
    if undeclared:
        # Its stale days would never be replaced, so refuse it rather than store it half-managed.
        raise ValueError(f"count for metric {min(undeclared)!r}, which is not among {sorted(set(metrics))}")
    if len(indexed) < len(counts):
        # PostgreSQL refuses one upsert touching a row twice; and which value wins would be a guess.
        seen: set[_CountKey] = set()
        for count in counts:
            key = (count.metric, count.subject, count.day)
            if key in seen:
                raise ValueError(f"two counts for {count.metric} / {count.subject} on {count.day}")
            seen.add(key)
    return indexed


def _changed_spans(source: str, moved: Sequence[_CountKey], stale: Sequence[_CountKey]) -> dict[ChangedKey, DaySpan]:
    """Each changed metric's first and last day, for the change feed."""
    return spans_of(((source, metric), day) for metric, _, day in itertools.chain(moved, stale))


def _existing_values(
    connection: Connection, source: str, metrics: Sequence[str], first: date, last: date
) -> dict[_CountKey, float]:
    if not metrics:
        return {}
    parameters = {"source": source, "metrics": list(metrics), "first": first, "last": last}
    return {(row.metric, row.subject, row.day): row.value for row in connection.execute(_EXISTING, parameters)}


# Built once, run with parameters: building a statement per sync cost more than running it.
_EXISTING = select(DAILY_COUNTS.c.metric, DAILY_COUNTS.c.subject, DAILY_COUNTS.c.day, DAILY_COUNTS.c.value).where(
    DAILY_COUNTS.c.source == bindparam("source"),
    DAILY_COUNTS.c.metric.in_(bindparam("metrics", expanding=True)),
    DAILY_COUNTS.c.day >= bindparam("first"),
    DAILY_COUNTS.c.day <= bindparam("last"),
)


@cache
def _success_upsert(dialect: str) -> postgresql.Insert | sqlite.Insert:
    """A successful sync's source_state upsert, built once per dialect (building it per sync cost more than running it).

    The cursor and the connector state that goes with it keep their stored values when the stored
    cursor is newer: a window older than it (a backfill's chunk) must not move them back. Decided in
    the statement, so a sync committing between our read and this write is never undone.
    """
    insert = insert_for(dialect, SOURCE_STATE)
    set_: dict[str, object] = {
        name: insert.excluded[name]
        for name in ("last_success_at", "last_attempt_at", "last_error", "consecutive_failures")
    }
    older = and_(SOURCE_STATE.c.cursor_end.is_not(None), SOURCE_STATE.c.cursor_end > insert.excluded.cursor_end)
    for name in ("cursor_end", "connector_state"):
        set_[name] = case((older, SOURCE_STATE.c[name]), else_=insert.excluded[name])
    return insert.on_conflict_do_update(index_elements=[SOURCE_STATE.c.source], set_=set_)


# A sync reads its own source's row: one statement, built once.
_STATES_OF = select(SOURCE_STATE).where(SOURCE_STATE.c.source.in_(bindparam("only", expanding=True)))


def _parse_connector_state(source: str, text: str) -> dict[str, str]:
    try:
        parsed: object = json.loads(text)
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in parsed.items()
    ):
        raise StorageError(f"stored connector state of {source} is not a JSON object of strings")
    return parsed
