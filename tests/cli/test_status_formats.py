"""`syncd status` at 80 columns, as JSON without float noise, and as CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner

from syncd.cli import main

CONFIG = """
timezone: UTC
teams: {recruiting: {head: sam}}
people:
  sam: {team: recruiting}
  carol: {team: recruiting, identities: {calls: carol@acme.io}}
sources:
  calls: {connector: push, token: "0123456789abcdef0123456789abcdef"}
kpis:
  prequalification_calls_completed: {source: calls, metric: calls, per_person: true, unit: calls}
goals:
  - {kpi: prequalification_calls_completed, owner: carol, period: month, target: 30, checkins: week}
  - {kpi: prequalification_calls_completed, owner: recruiting, period: quarter, target: 100}
"""


def prepared(tmp_path: Path) -> tuple[CliRunner, Path]:
    path = tmp_path / "syncd.yaml"
    path.write_text(CONFIG + f"database_url: sqlite:///{tmp_path / 'db.sqlite'}\n", encoding="utf-8")
    runner = CliRunner()
    for day, value in (("2026-11-02", "7"), ("2026-11-09", "3")):
        args = ["record", "--config", str(path), "--source", "calls", "--metric", "calls",
                "--subject", "carol@acme.io", "--value", value, "--day", day]  # fmt: skip
        assert runner.invoke(main, args).exit_code == 0
    return runner, path


def test_the_table_fits_80_columns_and_cuts_nothing(tmp_path: Path) -> None:
    runner, path = prepared(tmp_path)
    result = runner.invoke(
        main, ["status", "--config", str(path), "--as-of", "2026-11-20T12:00:00Z"], env={"COLUMNS": "80"}
    )
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    assert "prequalification" in result.output  # folded over lines if need be, never cut to "prequ…"
    assert "…" not in result.output
    assert "on_pace" in result.output or "behind" in result.output or "ahead" in result.output


def test_json_has_as_of_source_health_and_no_float_noise(tmp_path: Path) -> None:
    runner, path = prepared(tmp_path)
    result = runner.invoke(
        main, ["status", "--config", str(path), "--format", "json", "--as-of", "2026-11-20T12:00:00Z"]
    )
    assert result.exit_code == 0, result.output
    goals = json.loads(result.output)
    carol = next(g for g in goals if g["owner"] == "carol")
    assert carol["as_of"] == "2026-11-20T12:00:00+00:00"
    assert carol["value"] == 10
    assert carol["source_state"] in ("up", "never synced")  # a pushed source's health: see test_push
    assert carol["elapsed_ratio"] == round(19.5 / 30, 10)
    for goal in goals:
        for key, value in goal.items():
            if isinstance(value, float):
                assert float(f"{value:.10g}") == value, (key, value)  # at most 10 significant digits


def test_csv_has_a_header_and_a_row_per_goal(tmp_path: Path) -> None:
    runner, path = prepared(tmp_path)
    result = runner.invoke(
        main, ["status", "--config", str(path), "--format", "csv", "--as-of", "2026-11-20T12:00:00Z"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [(r["owner"], r["value"], r["target"]) for r in rows] == [
        ("carol", "10.0", "30.0"),
        ("recruiting", "10.0", "100.0"),
    ]
    assert rows[0]["checkpoint_id"] == "2026-W47"
