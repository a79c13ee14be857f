"""What `syncd backfill` shows: rows with waits and honest ETAs on a terminal, plain lines elsewhere,
log records above the rows, failure marks, the summary and the hint to resume."""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from connectors.base import SyncWindow
from syncd.cli.backfill_view import LiveView, PlainView, _Row, eta_text, render_summary, rerun_command, state_text
from syncd.config import parse_config
from syncd.run.backfill import BackfillReport, Phase, SourceTally, backfill_all
from tests.count_api import Answer, config_text, count_api
from tests.fakes import FakeClock

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SINCE = date(2026, 11, 2)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
KEY = "b-secret-key-0123456789"
LONDON = ZoneInfo("Europe/London")


def week(first: date) -> SyncWindow:
    start = datetime(first.year, first.month, first.day, tzinfo=LONDON)
    return SyncWindow(start=start, end=start + timedelta(days=7), timezone=LONDON)


def test_a_waiting_row_counts_down_and_hides_its_eta() -> None:
    tally = SourceTally("lemlist", phase=Phase.RUNNING, weeks_total=6, weeks_stored=2, started_at=0.0)
    tally.current = week(date(2026, 11, 16))
    row = _Row(tally, waiting_until=130.0, wait_reason="rate limit (HTTP 429)")
    assert state_text(row, 100.0).plain == "waiting 30s for rate limit (HTTP 429)"
    assert state_text(row, 120.0).plain == "waiting 10s for rate limit (HTTP 429)"
    # While it waits there is no estimate: a rate it measured before the wait would lie.
    assert eta_text(row, 120.0).plain == ""
    # Once the wait is over: two weeks took 140 s of wall time, waits included, so four more take 280 s.
    assert state_text(row, 140.0).plain == "week of 2026-11-16"
    assert eta_text(row, 140.0).plain == "~4m 40s left"


def test_rows_before_the_first_week_and_after_the_end_show_no_eta() -> None:
    tally = SourceTally("kit", phase=Phase.RUNNING, weeks_total=6, started_at=0.0)
    assert eta_text(_Row(tally), 50.0).plain == ""
    done = SourceTally("kit", phase=Phase.DONE, weeks_total=6, weeks_stored=6, counts=1234, seconds=75.0)
    assert eta_text(_Row(done), 80.0).plain == ""
    assert state_text(_Row(done), 80.0).plain == "done: 1,234 counts in 1m 15s"
    assert state_text(_Row(SourceTally("x")), 0.0).plain == "waiting for a turn"


def test_the_summary_marks_failures_and_says_how_to_resume() -> None:
    ok = SourceTally(
        "lemlist",
        phase=Phase.DONE,
        weeks_total=9,
        weeks_kept=3,
        weeks_stored=6,
        counts=1234,
        started_at=0,
        seconds=12.3,
    )
    failed = SourceTally(
        "x",
        phase=Phase.FAILED,
        weeks_total=5,
        weeks_stored=2,
        counts=40,
        started_at=0,
        seconds=2.0,
        error="x refused GET /dm (HTTP 400)",
    )
    failed.current = week(date(2026, 10, 25))
    complete = SourceTally("kit", phase=Phase.DONE, weeks_total=4, weeks_kept=4, started_at=0, seconds=0.1)
    push = SourceTally("desk", phase=Phase.NOTHING_TO_FETCH, error="a push source: nothing to fetch")
    console = Console(file=io.StringIO(), width=100, color_system=None)
    report = BackfillReport((ok, failed, complete, push), seconds=14.5)
    render_summary(console, report, "syncd backfill --since 2026-10-01")
    out = console.file.getvalue()  # type: ignore[attr-defined]
    lines = [line.rstrip() for line in out.splitlines()]
    rows = [
        r"✓\s+lemlist\s+9/9\s+1,234\s+12.3s\s+done \(3 weeks kept from an earlier run\)",
        r"✗\s+x\s+2/5\s+40\s+2.0s\s+failed at 2026-10-25: x refused GET /dm \(HTTP 400\)",
        r"✓\s+kit\s+4/4\s+0\s+0.1s\s+already complete",
        r"✓\s+desk\s+a push source: nothing to fetch",
    ]
    for row in rows:
        assert any(re.fullmatch(row, line) for line in lines), row
    assert "3 of 4 source(s) complete in 14.5s" in lines
    assert "1 of 4 source(s) failed" in lines
    assert "rerun `syncd backfill --since 2026-10-01` to resume: finished weeks are kept" in out


def test_a_clean_run_has_no_hint() -> None:
    ok = SourceTally("lemlist", phase=Phase.DONE, weeks_total=9, weeks_stored=9)
    console = Console(file=io.StringIO(), width=100, color_system=None)
    render_summary(console, BackfillReport((ok,)), "syncd backfill --since 2026-10-01")
    assert "rerun" not in console.file.getvalue()  # type: ignore[attr-defined]


def test_an_interrupted_run_says_so_and_how_to_resume() -> None:
    cut = SourceTally("lemlist", phase=Phase.INTERRUPTED, weeks_total=9, weeks_stored=4, started_at=0.0, seconds=3)
    cut.current = week(date(2026, 10, 29))
    never = SourceTally("kit", phase=Phase.INTERRUPTED)
    console = Console(file=io.StringIO(), width=100, color_system=None)
    render_summary(console, BackfillReport((cut, never), interrupted=True), "syncd backfill --since 2026-10-01")
    out = console.file.getvalue()  # type: ignore[attr-defined]
    lines = [line.rstrip() for line in out.splitlines()]
    assert any(re.fullmatch(r"■\s+lemlist\s+4/9\s+0\s+3.0s\s+interrupted at 2026-10-29", line) for line in lines)
    # A source that never had a turn has no figures, only what happened to it.
    assert any(re.fullmatch(r"■\s+kit\s+not started \(interrupted\)", line) for line in lines)
    assert "interrupted: the weeks stored so far are kept" in out
    assert "rerun `syncd backfill --since 2026-10-01` to resume" in out


def test_the_rerun_command_quotes_what_the_user_gave() -> None:
    assert rerun_command(SINCE, None, None) == "syncd backfill --since 2026-11-02"
    assert rerun_command(SINCE, "kit", "my configs/syncd.yaml") == (
        "syncd backfill --since 2026-11-02 --source kit --config 'my configs/syncd.yaml'"
    )


def refuse_b_and_slow_a_once() -> Callable[[str, date], Answer | None]:
    """b fails from its second week; a is rate limited once, on 3 November."""
    slowed: list[date] = []

    def script(source: str, day: date) -> Answer | None:
        if source == "b" and day >= date(2026, 11, 9):
            # The vendor echoes the key in its error body: it must not reach the screen.
            return 400, {}, {"error": f"bad key {KEY}"}
        if source == "a" and day == date(2026, 11, 3) and not slowed:
            slowed.append(day)
            return 429, {"Retry-After": "30"}, {"error": "slow down"}
        return None

    return script


async def test_plain_lines_when_not_a_terminal(tmp_path: Path) -> None:
    console = Console(file=io.StringIO(), width=160)
    assert not console.is_terminal
    clock = FakeClock(NOW)
    with count_api() as api:
        api.script = refuse_b_and_slow_a_once()
        config = parse_config(config_text(api, tmp_path / "c.db", {"a": None, "b": KEY}), file="t.yaml", environ={})
        with PlainView(console, clock) as view:
            report = await backfill_all(config, list(config.sources.values()), SINCE, clock=clock, observer=view)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert not ANSI.search(out)  # no bars, no cursor movement, no colour
    lines = out.splitlines()
    assert "a: 4 of 4 weeks to read" in lines
    assert "a: waiting 30s for rate limit (HTTP 429)" in lines
    assert "a: stored 2026-11-02 to 2026-11-08 (7 counts) [1/4]" in lines
    assert "a: stored 2026-11-23 to 2026-11-23 (1 counts) [4/4]" in lines
    assert "✓ a: done (4/4 weeks, 22 counts read in 30.0s)" in lines
    failure = [line for line in lines if line.startswith("✗ b: failed at 2026-11-09: b refused GET /count")]
    assert len(failure) == 1
    assert "bad key ***" in failure[0]
    assert "(1/4 weeks, 7 counts read in" in failure[0]
    assert KEY not in out
    assert [t.phase for t in report.tallies] == [Phase.DONE, Phase.FAILED]


async def test_live_rows_on_a_terminal_with_logs_above_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    console = Console(file=io.StringIO(), width=80, force_terminal=True, color_system=None)
    clock = FakeClock(NOW)
    # A log handler on the real stderr, as `syncd` installs one: while the rows are live its records
    # must go through the console, which prints them above the rows.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    seen_while_waiting: list[str] = []

    class Watching(LiveView):
        def waiting(self, tally: SourceTally, seconds: float, reason: str) -> None:
            super().waiting(tally, seconds, reason)
            # The row as drawn at that instant: the countdown, no ETA.
            _, row = self._rows[tally.source]
            seen_while_waiting.append(
                state_text(row, clock.monotonic()).plain + "|" + eta_text(row, clock.monotonic()).plain
            )

    try:
        with count_api() as api:
            api.script = refuse_b_and_slow_a_once()
            config = parse_config(config_text(api, tmp_path / "c.db", {"a": None, "b": KEY}), file="t.yaml", environ={})
            with Watching(console, clock, ["a", "b"]) as view:
                report = await backfill_all(config, list(config.sources.values()), SINCE, clock=clock, observer=view)
                logging.getLogger("syncd.test").warning("a line that must not land inside a row")
    finally:
        root.removeHandler(handler)
    assert seen_while_waiting == ["waiting 30s for rate limit (HTTP 429)|"]
    out = ANSI.sub("", console.file.getvalue())  # type: ignore[attr-defined]
    lines = out.splitlines()
    assert "WARNING syncd.test: a line that must not land inside a row" in lines
    assert "sync of b failed" not in out  # the ✗ line says it; the sync layer's warning would repeat it
    # The failure's whole reason is printed above the rows (the row has room for its start only).
    assert any(line.startswith("✗ b: failed at 2026-11-09: b refused GET /count") for line in lines)
    # The last frame: a's row done (✓) and b's failed (✗), within 80 columns.
    assert re.match(r"✓ a ━+ 4/4 weeks done: 22 counts in 30.0s", lines[-2])
    assert re.match(r"✗ b ━+╸? +1/4 weeks failed at 2026-11-09: b refused GET /count", lines[-1])
    assert all(len(line) <= 80 for line in lines)
    assert KEY not in out
    # Nothing went around the console to the terminal's stderr, and the handler has its stream back.
    assert "must not land" not in capsys.readouterr().err
    assert handler.stream is sys.stderr
    assert not report.ok
