"""`syncd backfill` as a user runs it: exit codes, the summary and the hint, Ctrl-C, `--concurrency`."""

from __future__ import annotations

import signal
import subprocess
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from syncd.cli import main
from syncd.run.backfill import DEFAULT_CONCURRENCY
from tests.count_api import Answer, config_text, count_api
from tests.processes import SYNCD, wait_until

KEY = "b-secret-key-0123456789"


def test_the_option_default_is_the_engines() -> None:
    option = next(p for p in main.commands["backfill"].params if p.name == "concurrency")
    assert option.default == DEFAULT_CONCURRENCY


def test_a_failed_source_exits_1_with_a_summary_and_the_rerun_command(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    since = datetime.now(UTC).date() - timedelta(days=10)

    def refuse_b_after_its_first_week(source: str, day: date) -> Answer | None:
        if source == "b" and day >= since + timedelta(days=7):
            return 401, {}, {"error": f"invalid key {KEY}"}
        return None

    with count_api() as api:
        api.script = refuse_b_after_its_first_week
        config = tmp_path / "syncd.yaml"
        config.write_text(config_text(api, tmp_path / "s.db", {"a": None, "b": KEY}))
        result = CliRunner().invoke(main, ["backfill", "--since", since.isoformat(), "--config", str(config)])
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert "\x1b[" not in out  # not a terminal: plain lines, no bars
    assert out.startswith(f"backfilling 2 sources from {since}, 2 at a time\n")
    assert f"✗ b: failed at {since + timedelta(days=7)}: b rejected the credential (HTTP 401)" in out
    assert "✓ a: done (2/2 weeks, 11 counts read in" in out
    assert "1 of 2 source(s) failed" in out
    assert f"rerun `syncd backfill --since {since} --config {config}` to resume: finished weeks are kept" in out
    assert KEY not in result.output
    # Said once, by the backfill's own line: not again as the sync layer's log warning.
    assert [r.getMessage() for r in caplog.records if r.name == "syncd.run.sync"] == []


def test_concurrency_is_bounded(tmp_path: Path) -> None:
    config = tmp_path / "syncd.yaml"
    config.write_text("sources: {}\n")
    result = CliRunner().invoke(
        main, ["backfill", "--since", "2026-01-01", "--concurrency", "0", "--config", str(config)]
    )
    assert result.exit_code == 2
    assert "0 is not in the range 1<=x<=32" in result.output


def test_ctrl_c_keeps_the_stored_weeks_and_prints_the_summary_and_hint(tmp_path: Path) -> None:
    since = datetime.now(UTC).date() - timedelta(days=10)
    release = threading.Event()

    def hang_in_the_second_week(source: str, day: date) -> Answer | None:
        if day >= since + timedelta(days=7):
            release.wait(60)  # released at the end of the test; the backfill is interrupted first
        return None

    with count_api() as api:
        api.script = hang_in_the_second_week
        config = tmp_path / "syncd.yaml"
        config.write_text(config_text(api, tmp_path / "s.db", {"a": None}))
        log = tmp_path / "backfill.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [SYNCD, "backfill", "--since", since.isoformat(), "--config", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            try:
                wait_until(lambda: "a: stored" in log.read_text(), timeout=30, what="the first stored week")
                wait_until(
                    lambda: (since + timedelta(days=7), "a") in {(d, s) for s, d in api.requests},
                    timeout=30,
                    what="the second week's request",
                )
                proc.send_signal(signal.SIGINT)
                code = proc.wait(timeout=30)
            finally:
                release.set()
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    text = log.read_text()
    assert code == 1, text
    assert "Traceback" not in text
    assert f"interrupted at {since + timedelta(days=7)}" in text
    assert "interrupted: the weeks stored so far are kept" in text
    assert f"rerun `syncd backfill --since {since} --config {config}` to resume: finished weeks are kept" in text
