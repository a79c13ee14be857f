"""Writes of pushed counts: `set` replaces a day's count, `add` adds once per idempotency key.

Synchronous, like `syncd.store.repository`; the web handler calls it through syncd.store.executor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, NamedTuple

from sqlalchemy import Connection, Engine, select

from syncd.store.changes import DaySpan, note_changes, spans_of
from syncd.store.count_writes import upsert_counts
from syncd.store.database import begin_durable, storage_errors
from syncd.store.dialect import dialect_insert
from syncd.store.models import DAILY_COUNTS, SOURCE_STATE
from syncd.store.push_models import PUSH_RECEIPTS

__all__ = ["PushMode", "PushOutcome", "PushedCount", "apply_pushed_counts", "load_pushed_value"]

PushMode = Literal["set", "add"]


# Rows per multi-row INSERT: 7 columns x 500 stays far below SQLite's 32,766 bound parameters.
_CHUNK = 500

_CountKey = tuple[str, str, date]  # (metric, subject, day) within one source


class PushedCount(NamedTuple):
    """One pushed observation, its day already resolved in the configured time zone.

    A named tuple: a push makes one per item, and a frozen dataclass's initialiser was a fifth of a
    1,000-item push's handling.
    """

    metric: str
    subject: str
    day: date
    value: float
    mode: PushMode = "set"
    key: str | None = None  # the client's idempotency key; required when mode is add


@dataclass(frozen=True)
class PushOutcome:
    """What a batch did: items applied, `add`s skipped as already applied, (source, metric) keys changed."""

    stored: int
    duplicates: int
    refreshed: tuple[tuple[str, str], ...]
    spans: Mapping[tuple[str, str], DaySpan] = field(default_factory=dict)  # days changed per key


def apply_pushed_counts(engine: Engine, *, source: str, counts: Sequence[PushedCount], at: datetime) -> PushOutcome:
    """Apply a batch in order, in one transaction: every item is stored, or none is.

    A `set` replaces the day's count; an `add` adds to it unless its key was applied before
    (by this batch or an earlier one), in which case it is counted as a duplicate.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("at is a naive datetime: syncd stores aware datetimes only")
    for index, count in enumerate(counts):
        if count.mode == "add" and not count.key:
            raise ValueError(f"item {index}: an add needs its idempotency key")
    # Durable: the pusher is told its counts are stored and will not send them again.
    with storage_errors(engine, f"store pushed counts of {source}"), begin_durable(engine) as connection:
        # Receipts first: on PostgreSQL a concurrent request with the same key waits on the row
        # lock here, then inserts nothing, so the add cannot be applied twice.
        fresh_keys = _claim_keys(connection, source, counts, at)
        applied: list[PushedCount] = []
        duplicates = 0
        for count in counts:
            if count.mode == "set":
                applied.append(count)
            elif count.key in fresh_keys:
                fresh_keys.discard(count.key)  # a key repeated later in the batch is a duplicate
                applied.append(count)
            else:
                duplicates += 1
        sets, adds = _fold(applied)
        # Sets as plain tuples to the driver (count_writes): SQLAlchemy's executemany of parameter
        # dicts was two thirds of a 1,000-item push. Adds are rarer and keep the arithmetic upsert.
        upsert_counts(connection, source, sets, at)
        _upsert_adds(connection, source, adds, at)
        # The push source's health, with the counts: its last success is its last accepted push.
        _mark_accepted(connection, source, at)
        # Last: a running daemon learns from it which counts to re-read.
        spans = spans_of(((source, count.metric), count.day) for count in applied)
        note_changes(connection, spans, at)
    refreshed = tuple(sorted(spans))
    return PushOutcome(stored=len(applied), duplicates=duplicates, refreshed=refreshed, spans=spans)


def _mark_accepted(connection: Connection, source: str, at: datetime) -> None:
    """Record an accepted push as the source's last success (never moved back by an older one)."""
    insert = dialect_insert(connection, SOURCE_STATE)
    statement = insert.values(
        source=source,
        cursor_end=None,
        connector_state="{}",
        last_success_at=at,
        last_attempt_at=at,
        last_error=None,
        consecutive_failures=0,
    ).on_conflict_do_update(
        index_elements=[SOURCE_STATE.c.source],
        set_={
            "last_success_at": insert.excluded.last_success_at,
            "last_attempt_at": insert.excluded.last_attempt_at,
            "last_error": None,
            "consecutive_failures": 0,
        },
        where=(SOURCE_STATE.c.last_success_at.is_(None))
        | (SOURCE_STATE.c.last_success_at < insert.excluded.last_success_at),
    )
    connection.execute(statement)


def load_pushed_value(engine: Engine, *, source: str, metric: str, subject: str, day: date) -> float | None:
    """Return the stored count of one (source, metric, subject, day), or None when there is none."""
    statement = select(DAILY_COUNTS.c.value).where(
        DAILY_COUNTS.c.source == source,
        DAILY_COUNTS.c.metric == metric,
        DAILY_COUNTS.c.subject == subject,
        DAILY_COUNTS.c.day == day,
    )
    with storage_errors(engine, f"read a count of {source}"), engine.connect() as connection:
        value = connection.execute(statement).scalar_one_or_none()
    return None if value is None else float(value)


def _claim_keys(connection: Connection, source: str, counts: Sequence[PushedCount], at: datetime) -> set[str]:
    """Insert a receipt for each add's key not yet applied; return the keys this call inserted."""
    first_uses: dict[str, PushedCount] = {}
    for count in counts:
        if count.mode == "add" and count.key is not None:
            first_uses.setdefault(count.key, count)
    rows = [
        {
            "source": source,
            "key": key,
            "metric": count.metric,
            "subject": count.subject,
            "day": count.day,
            "value": count.value,
            "applied_at": at,
        }
        for key, count in first_uses.items()
    ]
    claimed: set[str] = set()
    for start in range(0, len(rows), _CHUNK):
        statement = (
            dialect_insert(connection, PUSH_RECEIPTS)
            .values(rows[start : start + _CHUNK])
            .on_conflict_do_nothing(index_elements=[PUSH_RECEIPTS.c.source, PUSH_RECEIPTS.c.key])
            .returning(PUSH_RECEIPTS.c.key)
        )
        claimed.update(connection.execute(statement).scalars())
    return claimed


def _fold(applied: Sequence[PushedCount]) -> tuple[dict[_CountKey, float], dict[_CountKey, float]]:
    """Reduce the batch to one write per day: a value to set, or an amount to add to what is stored."""
    sets: dict[_CountKey, float] = {}
    adds: dict[_CountKey, float] = {}
    for count in applied:
        key = (count.metric, count.subject, count.day)
        if count.mode == "set":
            sets[key] = count.value
            adds.pop(key, None)  # a set later in the batch overrides earlier adds
        elif key in sets:
            sets[key] += count.value  # an add after a set in the batch builds on the set value
        else:
            adds[key] = adds.get(key, 0.0) + count.value
    return sets, adds


def _upsert_adds(connection: Connection, source: str, values: dict[_CountKey, float], at: datetime) -> None:
    if not values:
        return
    insert = dialect_insert(connection, DAILY_COUNTS)
    statement = insert.on_conflict_do_update(
        index_elements=[DAILY_COUNTS.c.source, DAILY_COUNTS.c.metric, DAILY_COUNTS.c.subject, DAILY_COUNTS.c.day],
        set_={"value": DAILY_COUNTS.c.value + insert.excluded.value, "updated_at": insert.excluded.updated_at},
    )
    rows = [
        {"source": source, "metric": metric, "subject": subject, "day": day, "value": value, "updated_at": at}
        for (metric, subject, day), value in values.items()
    ]
    connection.execute(statement, rows)
