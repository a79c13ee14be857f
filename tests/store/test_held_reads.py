"""Counts never go down on a single read: held until a second read agrees, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, func, select

from connectors.base import DailyCount
from syncd.store import save_sync
from syncd.store.held_reads import HELD_READS, SuspectDay
from tests.store.test_repository import values

T = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
D = date(2026, 3, 1)

ALICE = "alice@acme.io"
GOOD = [DailyCount("emails_sent", ALICE, D + timedelta(days=n), 10.0 + n) for n in range(4)]


def read(engine: Engine, counts: Sequence[DailyCount], minute: int) -> tuple[int, list[SuspectDay]]:
    held: list[SuspectDay] = []
    changed = save_sync(
        engine,
        source="lemlist",
        metrics=["emails_sent"],
        counts=counts,
        replace_from=D,
        replace_to=D + timedelta(days=3),
        cursor_end=T,
        connector_state={},
        finished_at=T + timedelta(minutes=minute),
        held=held,
    )
    return changed, held


def stored(engine: Engine) -> dict[date, float]:
    return {key[3]: value for key, value in values(engine).items()}


def held_rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(HELD_READS)).scalar_one())


def test_an_empty_read_is_held_and_a_good_read_clears_it(engine: Engine) -> None:
    read(engine, GOOD, 0)

    changed, held = read(engine, [], 15)

    assert changed == 0
    assert stored(engine) == {D + timedelta(days=n): 10.0 + n for n in range(4)}
    assert [(s.day, s.stored, s.read) for s in held] == [(D + timedelta(days=n), 10.0 + n, None) for n in range(4)]
    assert held[0].describe() == "emails_sent/alice@acme.io 2026-03-01: 10 -> missing"
    assert held_rows(engine) == 4

    changed, held = read(engine, GOOD, 30)
    assert (changed, held, held_rows(engine)) == (0, [], 0)
    # The glitch is forgotten: one more empty read is held again, not taken as the second.
    _, held = read(engine, [], 45)
    assert len(held) == 4
    assert sum(stored(engine).values()) == 46.0


def test_a_short_read_lowers_nothing_until_a_second_read_agrees(engine: Engine) -> None:
    read(engine, GOOD, 0)
    # Half a page: days 2 and 3 missing, day 1 lower, day 0 higher (late data lands at once).
    short = [
        DailyCount("emails_sent", ALICE, D, 12.0),
        DailyCount("emails_sent", ALICE, D + timedelta(days=1), 4.0),
    ]

    changed, held = read(engine, short, 15)

    assert changed == 1
    assert stored(engine) == {
        D: 12.0,
        D + timedelta(days=1): 11.0,
        D + timedelta(days=2): 12.0,
        D + timedelta(days=3): 13.0,
    }
    assert [(s.day.day, s.read) for s in held] == [(2, 4.0), (3, None), (4, None)]

    # The vendor says the same again: a genuine correction, and it lands.
    changed, held = read(engine, short, 30)

    assert (changed, held) == (3, [])
    assert stored(engine) == {D: 12.0, D + timedelta(days=1): 4.0}
    assert held_rows(engine) == 0


def test_a_second_lower_read_lands_its_own_value(engine: Engine) -> None:
    read(engine, GOOD, 0)
    read(engine, [*GOOD[:3], DailyCount("emails_sent", ALICE, D + timedelta(days=3), 9.0)], 15)

    changed, held = read(engine, [*GOOD[:3], DailyCount("emails_sent", ALICE, D + timedelta(days=3), 8.0)], 30)

    assert (changed, held) == (1, [])
    assert stored(engine)[D + timedelta(days=3)] == 8.0


def test_without_held_the_repository_replaces_at_once(engine: Engine) -> None:
    read(engine, GOOD, 0)
    save_sync(
        engine,
        source="lemlist",
        metrics=["emails_sent"],
        counts=[],
        replace_from=D,
        replace_to=D + timedelta(days=3),
        cursor_end=T,
        connector_state={},
        finished_at=T,
    )
    assert stored(engine) == {}
