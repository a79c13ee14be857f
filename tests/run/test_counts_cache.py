"""The daemon's counts cache re-reads only the days a push changed and ends equal to a full read."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from syncd.engine.evaluate import CountsRange
from syncd.run.daemon import CountsCache
from syncd.store import create_engine_for, upgrade
from syncd.store.push_repository import PushedCount, apply_pushed_counts

AT = datetime(2026, 3, 20, 12, tzinfo=UTC)
FIRST = date(2026, 3, 1)
NEEDED = CountsRange(keys=(("kit", "optins"), ("kit", "other")), first_day=FIRST, last_day=date(2026, 3, 20))


def push(engine: Engine, *counts: PushedCount) -> dict[tuple[str, str], tuple[date, date]]:
    return dict(apply_pushed_counts(engine, source="kit", counts=counts, at=AT).spans)


def engine_at(tmp_path: Path) -> Engine:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'c.db'}")
    upgrade(engine)
    return engine


def test_a_span_reread_equals_a_full_read_and_keeps_other_days(tmp_path: Path) -> None:
    engine = engine_at(tmp_path)
    push(
        engine,
        *(PushedCount("optins", f"s{i}", FIRST + timedelta(days=d), float(i + d)) for i in range(4) for d in range(20)),
        PushedCount("other", "s0", FIRST, 7.0),
    )
    cache = CountsCache()
    cache.load(engine, NEEDED)
    before = cache.counts[("kit", "optins")]

    spans = push(
        engine,
        PushedCount("optins", "s1", date(2026, 3, 5), 100.0),  # a changed value
        PushedCount("optins", "new", date(2026, 3, 6), 3.0),  # a subject seen for the first time
        PushedCount("optins", "s2", date(2026, 3, 6), 5.0, mode="add", key="k1"),  # an add on a stored day
    )
    assert spans == {("kit", "optins"): (date(2026, 3, 5), date(2026, 3, 6))}
    cache.load(engine, NEEDED, (("kit", "optins"),), spans)

    full = CountsCache()
    full.load(engine, NEEDED)
    assert cache.counts == full.counts
    assert cache.counts[("kit", "optins")]["s1"][date(2026, 3, 5)] == 100.0
    assert (
        cache.counts[("kit", "optins")]["s2"][date(2026, 3, 6)] == 2.0 + 5.0 + 5.0
    )  # s2 on day 5 of the 20, then the add
    assert cache.counts[("kit", "optins")]["s3"][date(2026, 3, 19)] == 3.0 + 18.0  # outside the span, kept
    # A new mapping for the key (the evaluation cache tells changes by identity), the old one untouched.
    assert cache.counts[("kit", "optins")] is not before
    assert before["s1"][date(2026, 3, 5)] == 1.0 + 4.0


def test_a_span_outside_the_needed_days_reads_nothing_and_a_key_not_held_is_read_whole(tmp_path: Path) -> None:
    engine = engine_at(tmp_path)
    push(engine, PushedCount("optins", "s0", FIRST, 1.0), PushedCount("other", "s0", FIRST, 2.0))
    cache = CountsCache()
    cache.load(engine, NEEDED, (("kit", "optins"),))
    held = cache.counts[("kit", "optins")]
    spans = {("kit", "optins"): (date(2026, 2, 1), date(2026, 2, 2)), ("kit", "other"): (FIRST, FIRST)}
    cache.load(engine, NEEDED, (("kit", "optins"), ("kit", "other")), spans)
    assert cache.counts[("kit", "optins")] is held
    assert cache.counts[("kit", "other")] == {"s0": {FIRST: 2.0}}


def test_subjects_whose_counts_did_not_move_keep_their_map_object(tmp_path: Path) -> None:
    # The evaluation cache works an owner's goals out again when one of its day maps is a new object:
    # a re-read (of a push's days, or a sync's whole key) must hand unchanged subjects their old map.
    engine = engine_at(tmp_path)
    push(engine, *(PushedCount("optins", f"s{i}", FIRST + timedelta(days=d), 1.0) for i in range(3) for d in range(5)))
    cache = CountsCache()
    cache.load(engine, NEEDED)
    before = cache.counts[("kit", "optins")]
    spans = push(
        engine,
        PushedCount("optins", "s0", FIRST + timedelta(days=2), 1.0),  # re-sent as stored
        PushedCount("optins", "s1", FIRST + timedelta(days=2), 9.0),  # changed
    )
    cache.load(engine, NEEDED, (("kit", "optins"),), spans)
    after = cache.counts[("kit", "optins")]
    assert after["s0"] is before["s0"]  # re-sent: same values, same object
    assert after["s2"] is before["s2"]  # has counts on the re-read day, none pushed
    assert after["s1"] is not before["s1"]
    assert after["s1"][FIRST + timedelta(days=2)] == 9.0
    assert before["s1"][FIRST + timedelta(days=2)] == 1.0  # never edited in place

    push(engine, PushedCount("optins", "s2", FIRST, 4.0))
    cache.load(engine, NEEDED, (("kit", "optins"),))  # a sync's whole re-read
    whole = cache.counts[("kit", "optins")]
    assert whole["s0"] is before["s0"]
    assert whole["s1"] is after["s1"]
    assert whole["s2"] is not before["s2"]
    assert whole["s2"][FIRST] == 4.0
    full = CountsCache()
    full.load(engine, NEEDED)
    assert cache.counts == full.counts
