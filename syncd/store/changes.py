"""The change feed: which (source, metric) counts changed, readable by any process as "what is new since T".

Every write of daily counts (a sync, a backfill, a push, `syncd record`) notes, in its own
transaction, one row per (source, metric) it changed with the first and last day touched. A
reader keeps the `token` of the last row it saw and asks `changes_since(engine, token)`: one
primary-key range scan, cheap enough for every evaluation tick of every replica.

Ids become visible in order on both databases: SQLite has one writer at a time, and on
PostgreSQL the rows are written last in the transaction under a transaction-scoped advisory
lock, so no transaction can commit a smaller id after a reader has seen a larger one.

The feed keeps the newest `KEEP_ROWS` rows; a reader whose token is older than that is told
its view is incomplete (`Changes.complete` False) and should re-read everything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Column, Connection, Date, Engine, Integer, String, Table, delete, func, insert, select, text

from syncd.store.database import storage_errors
from syncd.store.models import METADATA, UTCDateTime

__all__ = ["DATA_CHANGES", "KEEP_ROWS", "Changes", "changes_since", "current_token", "note_changes", "spans_of"]

# Rows kept: days of writes for a team's sources; a reader lagging further re-reads everything.
KEEP_ROWS = 10_000
# Any fixed 64-bit number: the PostgreSQL advisory lock that orders writers' change ids.
_ADVISORY_LOCK_KEY = 0x73796E63646366  # "syncdcf": not the schema upgrade's key (database.py)

ChangedKey = tuple[str, str]  # (source, metric)
DaySpan = tuple[date, date]  # first and last local day changed, both included


# One write's change to one (source, metric): the days it touched.
DATA_CHANGES = Table(
    "data_changes",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(200), nullable=False),
    Column("metric", String(200), nullable=False),
    Column("first_day", Date, nullable=False),
    Column("last_day", Date, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
)


@dataclass(frozen=True)
class Changes:
    """What changed after a token: the keys with the span of days, and the token to ask with next."""

    token: int
    keys: Mapping[ChangedKey, DaySpan]
    # False when rows after the caller's token were pruned: re-read everything, then use `token`.
    complete: bool = True


def note_changes(connection: Connection, spans: Mapping[ChangedKey, DaySpan], at: datetime) -> None:
    """Record, inside the caller's write transaction, that these keys changed on these days.

    Call it last in the transaction, so the PostgreSQL lock it takes is held only until commit.
    """
    if not spans:
        return
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
    rows = [
        {"source": source, "metric": metric, "first_day": first, "last_day": last, "changed_at": at}
        for (source, metric), (first, last) in sorted(spans.items())
    ]
    # One statement for the batch (insertmanyvalues), answering the ids it took.
    newest = max(connection.execute(insert(DATA_CHANGES).returning(DATA_CHANGES.c.id), rows).scalars())
    if newest > KEEP_ROWS:
        connection.execute(delete(DATA_CHANGES).where(DATA_CHANGES.c.id <= newest - KEEP_ROWS))


def spans_of(days_by_key: Iterable[tuple[ChangedKey, date]]) -> dict[ChangedKey, DaySpan]:
    """Fold (key, day) pairs into each key's first and last day."""
    # Days gathered per key, min and max once each: a sync's millions of rows have few distinct days.
    days: dict[ChangedKey, set[date]] = {}
    for key, day in days_by_key:
        days.setdefault(key, set()).add(day)
    return {key: (min(seen), max(seen)) for key, seen in days.items()}


def current_token(engine: Engine) -> int:
    """Return the token of the newest change: what a reader starting now has already seen."""
    with storage_errors(engine, "read the change feed"), engine.connect() as connection:
        newest = connection.execute(select(func.max(DATA_CHANGES.c.id))).scalar_one()
    return int(newest or 0)


def changes_since(engine: Engine, token: int) -> Changes:
    """Return every (source, metric) changed after `token`, with the days touched, and the next token."""
    statement = (
        select(
            DATA_CHANGES.c.id,
            DATA_CHANGES.c.source,
            DATA_CHANGES.c.metric,
            DATA_CHANGES.c.first_day,
            DATA_CHANGES.c.last_day,
        )
        .where(DATA_CHANGES.c.id > token)
        .order_by(DATA_CHANGES.c.id)
    )
    with storage_errors(engine, "read the change feed"), engine.connect() as connection:
        rows = connection.execute(statement).all()
        oldest = connection.execute(select(func.min(DATA_CHANGES.c.id))).scalar_one() if rows else None
    spans: dict[ChangedKey, DaySpan] = {}
    for row in rows:
        first, last = spans.get((row.source, row.metric), (row.first_day, row.last_day))
        spans[(row.source, row.metric)] = (min(first, row.first_day), max(last, row.last_day))
    # Rows between the token and the oldest kept one may have been pruned (or be ids a
    # rolled-back PostgreSQL transaction used up: re-reading everything is then merely wasted).
    complete = oldest is None or token >= oldest - 1
    return Changes(token=rows[-1].id if rows else token, keys=spans, complete=complete)
