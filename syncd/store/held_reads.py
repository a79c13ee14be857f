"""Counts never go down on a single read: a re-read lowering or dropping stored days is held.

A short page, an empty answer or a vendor glitch looks exactly like a correction the first time.
So a read that would lower a stored count (or delete it) keeps the stored value and is remembered
here; when the next read of that day is lower too, the two agree and the newest value lands. A
read that brings the count back clears what was held. Both outcomes are in one transaction with
the counts they guard.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Column, Connection, Date, Float, String, Table, bindparam, delete, select

from syncd.store.models import METADATA, UTCDateTime

__all__ = ["HELD_READS", "SuspectDay", "hold_lowered_reads"]

_CountKey = tuple[str, str, date]  # (metric, subject, day) within one source


# A lowered value one read gave for a stored day, waiting for a second read to agree.
HELD_READS = Table(
    "held_reads",
    METADATA,
    Column("source", String(200), primary_key=True),
    Column("metric", String(200), primary_key=True),
    Column("subject", String(500), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("value", Float, nullable=True),  # None: the read left the day out
    Column("held_at", UTCDateTime, nullable=False),
)


@dataclass(frozen=True)
class SuspectDay:
    """One stored count a read would have lowered (`read` None: dropped), kept until confirmed."""

    metric: str
    subject: str
    day: date
    stored: float
    read: float | None

    def describe(self) -> str:
        """Say it in a log line: `emails_sent/alice@acme.io 2026-03-02: 5 -> missing`."""
        after = "missing" if self.read is None else f"{self.read:g}"
        return f"{self.metric}/{self.subject} {self.day.isoformat()}: {self.stored:g} -> {after}"


@dataclass(frozen=True)
class HoldOutcome:
    """What to write after holding: the counts to upsert, the rows to delete, and what was held."""

    incoming: dict[_CountKey, float]
    stale: list[_CountKey]
    held: tuple[SuspectDay, ...]


def hold_lowered_reads(
    connection: Connection,
    *,
    source: str,
    metrics: Sequence[str],
    existing: Mapping[_CountKey, float],
    incoming: Mapping[_CountKey, float],
    stale: Sequence[_CountKey],
    first: date,
    last: date,
    at: datetime,
) -> HoldOutcome:
    """Keep stored values a single read would lower; let through those a previous read already lowered."""
    lowered: dict[_CountKey, float | None] = {key: None for key in stale}
    for key, value in incoming.items():
        stored = existing.get(key)
        if stored is not None and value < stored:
            lowered[key] = value
    where = {"source": source, "metrics": list(metrics), "first": first, "last": last}
    previously = _held(connection, where) if metrics else set()
    confirmed = {key for key in lowered if key in previously}
    suspect = {key: value for key, value in lowered.items() if key not in confirmed}
    if previously:
        # Every hold of the range is settled by this read; none held, none to clear (most syncs).
        connection.execute(_CLEAR_HELD, where)
    if suspect:
        connection.execute(
            HELD_READS.insert(),
            [
                {"source": source, "metric": m, "subject": s, "day": d, "value": value, "held_at": at}
                for (m, s, d), value in suspect.items()
            ],
        )
    kept_incoming = {key: value for key, value in incoming.items() if key not in suspect}
    kept_stale = [key for key in stale if key not in suspect]
    held = tuple(
        SuspectDay(metric=m, subject=s, day=d, stored=existing[(m, s, d)], read=value)
        for (m, s, d), value in sorted(suspect.items())
    )
    return HoldOutcome(incoming=kept_incoming, stale=kept_stale, held=held)


def _held(connection: Connection, where: Mapping[str, object]) -> set[_CountKey]:
    return {(row.metric, row.subject, row.day) for row in connection.execute(_HELD_IN_RANGE, where)}


# Built once, run with parameters: building them per sync cost more than running them.
_IN_RANGE = (
    HELD_READS.c.source == bindparam("source"),
    HELD_READS.c.metric.in_(bindparam("metrics", expanding=True)),
    HELD_READS.c.day >= bindparam("first"),
    HELD_READS.c.day <= bindparam("last"),
)
_HELD_IN_RANGE = select(HELD_READS.c.metric, HELD_READS.c.subject, HELD_READS.c.day).where(*_IN_RANGE)
_CLEAR_HELD = delete(HELD_READS).where(*_IN_RANGE)
