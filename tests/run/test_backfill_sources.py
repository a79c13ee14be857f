"""Backfill of several sources: concurrent within a bound, vendor accounts in turns, waits told,
one failure leaves the others going, a rerun resumes and stores nothing twice, Ctrl-C still reports."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from syncd.config import parse_config
from syncd.model import Config
from syncd.run.backfill import (
    Backfill,
    BackfillReport,
    Phase,
    SourceTally,
    backfill_all,
    plan_chunks,
    vendor_accounts,
)
from syncd.run.sync import SyncOutcome
from syncd.store import create_engine_for, load_daily_counts, upgrade
from tests.count_api import Answer, CountApi, config_text, count_api, truth
from tests.fakes import FakeClock

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
# 2 Nov .. 23 Nov: three whole weeks and today, a partial fourth chunk; 22 days.
SINCE = date(2026, 11, 2)
DAYS = [SINCE + timedelta(days=n) for n in range(22)]
# Bounds a test that would hang if the sources were read one after another; never reached when they are not.
HANG_GUARD_S = 30.0


def load(api: CountApi, database: Path, sources: dict[str, str | None]) -> Config:
    return parse_config(config_text(api, database, sources), file="test.yaml", environ={})


class Recorder:
    """A BackfillObserver that writes down what it hears."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.waits: list[tuple[str, float, str]] = []

    def begin(self, tallies: list[SourceTally]) -> None:
        self.events.append(("*", "begin"))

    def planned(self, tally: SourceTally) -> None:
        self.events.append((tally.source, f"planned {tally.weeks_kept}/{tally.weeks_total}"))

    def note(self, tally: SourceTally, text: str) -> None:
        self.events.append((tally.source, f"note {text}"))

    def chunk_started(self, tally: SourceTally) -> None:
        assert tally.current is not None
        self.events.append((tally.source, f"start {tally.current.first_day}"))

    def waiting(self, tally: SourceTally, seconds: float, reason: str) -> None:
        self.waits.append((tally.source, seconds, reason))

    def chunk_stored(self, tally: SourceTally, outcome: SyncOutcome) -> None:
        assert tally.current is not None
        self.events.append((tally.source, f"stored {tally.current.first_day} {outcome.counts}"))

    def finished(self, tally: SourceTally) -> None:
        self.events.append((tally.source, f"finished {tally.phase.value}"))


def stored(database: Path, sources: list[str]) -> dict[tuple[str, date], float]:
    engine = create_engine_for(f"sqlite:///{database}")
    try:
        counts = load_daily_counts(
            engine, keys=[(name, "calls") for name in sources], first_day=SINCE, last_day=NOW.date()
        )
    finally:
        engine.dispose()
    return {
        (source, day): value
        for (source, _), by_subject in counts.items()
        for days in by_subject.values()
        for day, value in days.items()
    }


def expected(sources: list[str]) -> dict[tuple[str, date], float]:
    return {(source, day): float(truth(source, day)) for source in sources for day in DAYS}


async def test_sources_are_read_at_the_same_time(tmp_path: Path) -> None:
    # Each source's first request is held until the other source's first request has arrived: read
    # one after another, the first would wait forever (the guard below turns that into a failure).
    both = threading.Event()

    def hold(source: str, day: date) -> Answer | None:
        with api.lock:
            if {name for name, _ in api.requests} == {"a", "b"}:
                both.set()
        assert both.wait(HANG_GUARD_S), "the other source never sent a request"
        return None

    with count_api() as api:
        api.script = hold
        config = load(api, tmp_path / "c.db", {"a": None, "b": None})
        recorder = Recorder()
        async with asyncio.timeout(HANG_GUARD_S):
            report = await backfill_all(
                config, list(config.sources.values()), SINCE, clock=FakeClock(NOW), observer=recorder
            )
    assert report.ok
    assert [(t.source, t.phase, t.weeks_stored, t.weeks_total) for t in report.tallies] == [
        ("a", Phase.DONE, 4, 4),
        ("b", Phase.DONE, 4, 4),
    ]
    # 22 days each (21 whole days and today), one count per day.
    assert [t.counts for t in report.tallies] == [22, 22]
    assert stored(tmp_path / "c.db", ["a", "b"]) == expected(["a", "b"])
    # Chunks within a source stay in order: its progress is one "done through" day.
    assert [e for s, e in recorder.events if s == "a" and e.startswith("start")] == [
        "start 2026-11-02",
        "start 2026-11-09",
        "start 2026-11-16",
        "start 2026-11-23",
    ]


async def test_concurrency_one_reads_one_source_after_the_other(tmp_path: Path) -> None:
    with count_api() as api:
        config = load(api, tmp_path / "c.db", {"a": None, "b": None, "c": None})
        report = await backfill_all(config, list(config.sources.values()), SINCE, clock=FakeClock(NOW), concurrency=1)
        order = [source for source, _ in api.requests]
    assert report.ok
    assert order == ["a"] * 22 + ["b"] * 22 + ["c"] * 22


async def test_sources_of_one_vendor_account_take_turns(tmp_path: Path) -> None:
    # a and b share a key on the same API: the vendor counts their requests together.
    with count_api() as api:
        config = load(api, tmp_path / "c.db", {"a": "shared-key-0123456789", "b": "shared-key-0123456789", "c": None})
        assert [[s.name for s in group] for group in vendor_accounts(list(config.sources.values()))] == [
            ["a", "b"],
            ["c"],
        ]
        report = await backfill_all(config, list(config.sources.values()), SINCE, clock=FakeClock(NOW))
        order = [source for source, _ in api.requests if source != "c"]
    assert report.ok
    assert order == ["a"] * 22 + ["b"] * 22


async def test_a_rate_limit_wait_is_told_to_the_observer(tmp_path: Path) -> None:
    answered: set[str] = set()

    def rate_limit_once(source: str, day: date) -> Answer | None:
        if day == date(2026, 11, 10) and "once" not in answered:
            answered.add("once")
            return 429, {"Retry-After": "30"}, {"error": "slow down"}
        return None

    clock = FakeClock(NOW)
    with count_api() as api:
        api.script = rate_limit_once
        config = load(api, tmp_path / "c.db", {"a": None})
        recorder = Recorder()
        report = await backfill_all(config, list(config.sources.values()), SINCE, clock=clock, observer=recorder)
    assert report.ok
    assert recorder.waits == [("a", 30.0, "rate limit (HTTP 429)")]
    # The injected clock's sleep took the wait: the test did not.
    assert clock.sleeps == [30.0]
    assert api.days_read("a").count(date(2026, 11, 10)) == 2


async def test_a_failed_source_stops_alone_and_a_rerun_resumes_without_storing_twice(tmp_path: Path) -> None:
    # b's API refuses the credential from 12 November: b stops in its second week, a goes on.
    broken = True

    def refuse_b(source: str, day: date) -> Answer | None:
        if broken and source == "b" and day >= date(2026, 11, 12):
            return 401, {}, {"error": "invalid key"}
        return None

    database = tmp_path / "resumed.db"
    with count_api() as api:
        api.script = refuse_b
        config = load(api, database, {"a": None, "b": None})
        first = await backfill_all(config, list(config.sources.values()), SINCE, clock=FakeClock(NOW))
        a, b = first.tallies
        assert (a.phase, a.weeks_stored) == (Phase.DONE, 4)
        assert (b.phase, b.weeks_stored, b.weeks_total) == (Phase.FAILED, 1, 4)
        assert b.describe() == "failed at 2026-11-09: b rejected the credential (HTTP 401)"
        assert not first.ok
        b_first_run = api.days_read("b")

        broken = False
        api.requests.clear()
        second = await backfill_all(config, list(config.sources.values()), SINCE, clock=FakeClock(NOW))
        assert second.ok
        a, b = second.tallies
        # b resumes at its failed week; a reads again only the week that holds today (partial before).
        assert api.days_read("b") == [date(2026, 11, 9) + timedelta(days=n) for n in range(15)]
        assert api.days_read("a") == [date(2026, 11, 23)]
        assert (b.weeks_kept, b.weeks_stored, a.weeks_kept, a.weeks_stored) == (1, 3, 3, 1)
        assert a.describe() == "done (3 weeks kept from an earlier run)"

        clean = tmp_path / "clean.db"
        once = await backfill_all(
            load(api, clean, {"a": None, "b": None}), list(config.sources.values()), SINCE, clock=FakeClock(NOW)
        )
        assert once.ok
    assert b_first_run[0] == SINCE
    assert date(2026, 11, 12) in b_first_run
    assert stored(database, ["a", "b"]) == stored(clean, ["a", "b"]) == expected(["a", "b"])


async def test_a_cancel_reports_what_was_stored_and_what_was_cut_short(tmp_path: Path) -> None:
    # Ctrl-C while a is in its third week and c still waits for a turn (concurrency 2).
    cancel = threading.Event()

    def cut_at_third_week(source: str, day: date) -> Answer | None:
        if source == "a" and day == date(2026, 11, 16):
            cancel.set()
        return None

    with count_api() as api:
        api.script = cut_at_third_week
        config = load(api, tmp_path / "c.db", {"a": None, "b": None, "c": None})

        def hold_b(source: str, day: date) -> Answer | None:
            cut_at_third_week(source, day)
            if source == "b":
                # b holds its first request until the cancel: it is cut short too.
                assert cancel.wait(HANG_GUARD_S)
            return None

        api.script = hold_b
        task = asyncio.create_task(
            backfill_all(config, list(config.sources.values()), SINCE, clock=FakeClock(NOW), concurrency=2)
        )
        # The cancel comes from the API's thread, as Ctrl-C comes from outside the loop.
        assert await asyncio.to_thread(cancel.wait, HANG_GUARD_S)
        task.cancel()
        async with asyncio.timeout(HANG_GUARD_S):
            report: BackfillReport = await task
    assert report.interrupted
    assert not report.ok
    a, b, c = report.tallies
    assert (a.phase, a.weeks_stored) == (Phase.INTERRUPTED, 2)
    assert a.describe() == "interrupted at 2026-11-16"
    assert (b.phase, b.weeks_stored) == (Phase.INTERRUPTED, 0)
    assert (c.phase, c.describe()) == (Phase.INTERRUPTED, "not started (interrupted)")
    assert set(stored(tmp_path / "c.db", ["a"])) == {("a", day) for day in DAYS[:14]}


async def test_a_push_source_has_nothing_to_fetch(tmp_path: Path) -> None:
    with count_api() as api:
        text = config_text(api, tmp_path / "c.db", {"a": None})
        text += "  desk: {connector: push, token: push-token-0000-0000-0001}\n"
        config = parse_config(text, file="test.yaml", environ={})
        report = await backfill_all(config, list(config.sources.values()), SINCE, clock=FakeClock(NOW))
    assert report.ok
    assert [(t.source, t.phase, t.describe()) for t in report.tallies] == [
        ("a", Phase.DONE, "done"),
        ("desk", Phase.NOTHING_TO_FETCH, "a push source: nothing to fetch"),
    ]


def test_concurrency_must_be_positive(tmp_path: Path) -> None:
    with count_api() as api:
        config = load(api, tmp_path / "c.db", {"a": None})
    engine = create_engine_for(f"sqlite:///{tmp_path / 'c.db'}")
    upgrade(engine)
    with pytest.raises(ValueError, match="at least 1"):
        Backfill(config, list(config.sources.values()), SINCE, engine, FakeClock(NOW), concurrency=0)
    engine.dispose()
    assert len(plan_chunks(config, config.sources["a"], SINCE, FakeClock(NOW))[0]) == 4
