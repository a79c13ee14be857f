"""Each benchmark of issue 10 runs end to end at a toy size (the real sizes run with `make bench`)."""

from __future__ import annotations

import pytest

from bench import daemon, daemon_run, evaluation, exposition, fanout, retention, upsert


def test_evaluation_bench_runs(capsys: pytest.CaptureFixture[str]) -> None:
    evaluation.main(20)
    out = capsys.readouterr().out
    assert "40 goals (75% with check-ins), a year of counts" in out
    assert "growth 4 -> 40 goals" in out


def test_exposition_bench_runs(capsys: pytest.CaptureFixture[str]) -> None:
    exposition.main(10)
    assert "20 goals" in capsys.readouterr().out


def test_upsert_bench_runs(capsys: pytest.CaptureFixture[str]) -> None:
    upsert.main(5, 10)
    assert "SQLite: 50 rows" in capsys.readouterr().out


def test_daemon_bench_runs(capsys: pytest.CaptureFixture[str]) -> None:
    daemon.main(10, scrapes=3)
    out = capsys.readouterr().out
    assert "20 goals" in out
    assert "peak RSS" in out


def test_retention_bench_runs(capsys: pytest.CaptureFixture[str]) -> None:
    retention.main(2_500)
    out = capsys.readouterr().out
    assert "SQLite: 2,500 receipts in batches of 1,000" in out
    assert "while the pruner ran" in out


def test_fanout_bench_runs(capsys: pytest.CaptureFixture[str]) -> None:
    fanout.main(5, 1)
    out = capsys.readouterr().out
    assert "start-up with 5 sources" in out
    assert "one round of 5 sources" in out
    assert "daemon sync + re-evaluation" in out


def test_daemon_run_bench_runs(capsys: pytest.CaptureFixture[str]) -> None:
    # Two real `syncd run` processes (1 and 5 people): pushed, visible, idle, scraped, measured.
    daemon_run.main(5, idle=0.5, days=3, scrapes=2)
    out = capsys.readouterr().out
    assert "syncd run, 10 goals, SQLite" in out
    assert "generate_latest" in out
    assert "at 2 goals" in out
