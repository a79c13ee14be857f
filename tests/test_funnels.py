"""Funnels: each owner's stage conversion, the best performer per stage, and the what-if."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors.base import DailyCount
from syncd.cli import main
from syncd.cli.funnel_report import render_funnel, what_if
from syncd.engine.funnels import evaluate_funnels
from syncd.store import create_engine_for, save_sync, upgrade
from tests.fakes import make_config

CONFIG = """
timezone: Europe/London
database_url: sqlite:///{db}
people:
  alice: {{identities: {{calls: alice}}}}
  bob: {{identities: {{calls: bob}}}}
  carol: {{identities: {{calls: carol}}}}
sources:
  calls: {{connector: push, token: "push-token-0123456789"}}
kpis:
  dms: {{source: calls, metric: dms, per_person: true}}
  prequal: {{source: calls, metric: prequal, per_person: true}}
  qual: {{source: calls, metric: qual, per_person: true}}
  interviews: {{source: calls, metric: interviews, per_person: true}}
funnels:
  recruiting: {{steps: [dms, prequal, qual, interviews], period: month, min_volume: 10}}
"""
AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
VOLUMES = {  # dms, prequal, qual, interviews in November
    "alice": (100, 20, 10, 5),
    "bob": (50, 20, 5, 4),
    "carol": (200, 8, 6, 3),  # the best prequal -> qual ratio, but below min_volume at its start
}


def counts() -> dict[tuple[str, str], dict[str, dict[date, float]]]:
    out: dict[tuple[str, str], dict[str, dict[date, float]]] = {}
    for owner, values in VOLUMES.items():
        for metric, value in zip(("dms", "prequal", "qual", "interviews"), values, strict=True):
            out.setdefault(("calls", metric), {})[owner] = {date(2026, 11, 3): float(value)}
    return out


def test_conversions_and_benchmarks(tmp_path: Path):
    config = make_config(CONFIG.format(db=tmp_path / "f.db"))
    stages = {(s.owner, s.from_step): s for s in evaluate_funnels(config, counts(), AT)}
    assert stages[("alice", "dms")].ratio == pytest.approx(0.2)
    assert stages[("bob", "dms")].ratio == pytest.approx(0.4)
    # dms -> prequal: bob's 0.4 is best among owners with 10+ DMs.
    assert (stages[("alice", "dms")].benchmark_ratio, stages[("alice", "dms")].benchmark_owner) == (
        pytest.approx(0.4),
        "bob",
    )
    # prequal -> qual: carol's 0.75 does not count (8 < min_volume 10); alice's 0.5 leads.
    assert stages[("carol", "prequal")].ratio == pytest.approx(0.75)
    assert stages[("bob", "prequal")].benchmark_owner == "alice"
    assert stages[("bob", "prequal")].benchmark_ratio == pytest.approx(0.5)
    assert all(s.period == "2026-11" for s in stages.values())


def test_what_if_compounds_over_the_stages(tmp_path: Path):
    config = make_config(CONFIG.format(db=tmp_path / "f.db"))
    stages = list(evaluate_funnels(config, counts(), AT))
    alice = next(row for row in what_if(stages, 0.10) if row.owner == "alice")
    # Three stages each converting 10% better: 5 × 1.1³ = 6.655 interviews.
    assert alice.last_step_then == pytest.approx(6.655)
    assert alice.gain == pytest.approx(1.655)


def test_funnel_command(tmp_path: Path):
    path = tmp_path / "syncd.yaml"
    path.write_text(CONFIG.format(db=tmp_path / "f.db"))
    engine = create_engine_for(f"sqlite:///{tmp_path / 'f.db'}")
    upgrade(engine)
    for (_, metric), by_owner in counts().items():
        save_sync(
            engine,
            source="calls",
            metrics=[metric],
            counts=[DailyCount(metric, owner, day, v) for owner, days in by_owner.items() for day, v in days.items()],
            replace_from=date(2026, 11, 1),
            replace_to=date(2026, 11, 3),
            cursor_end=AT,
            connector_state={},
            finished_at=AT,
        )
    engine.dispose()
    runner = CliRunner()
    result = runner.invoke(
        main, ["funnel", "recruiting", "--as-of", AT.isoformat(), "--uplift", "10%", "--config", str(path)]
    )
    assert result.exit_code == 0, result.output
    assert "alice: interviews 5 -> 6.7 (+1.7)" in result.output
    assert "domino step: dms" in result.output
    domino = result.output.split("What if only dms grew 10%")[1]
    assert "alice: interviews 5 -> 5.5 (+0.5)" in domino
    assert "bob" in result.output
    unknown = runner.invoke(main, ["funnel", "sales", "--config", str(path)])
    assert unknown.exit_code == 2


def test_record_command(tmp_path: Path):
    path = tmp_path / "syncd.yaml"
    path.write_text(CONFIG.format(db=tmp_path / "r.db"))
    runner = CliRunner()
    args = ["record", "--config", str(path), "--source", "calls", "--metric", "interviews", "--subject", "alice"]
    ok = runner.invoke(main, [*args, "--day", "2026-11-03", "--value", "2"])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(main, [*args, "--day", "2026-11-03", "--value", "-1"])
    assert bad.exit_code == 2
    assert bad.output.startswith("error: ")


def test_the_stage_table_fits_80_columns_with_the_demo_s_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    long_names = {"dms": "outreach_emails_sent", "prequal": "outreach_replies_got", "qual": "calls_held_with_lead"}
    text = CONFIG.format(db=tmp_path / "f.db")
    for short, long in long_names.items():
        text = text.replace(f"  {short}: {{source", f"  {long}: {{source")
    text = text.replace("[dms, prequal, qual, interviews]", f"[{', '.join(long_names.values())}, interviews]")
    config = make_config(text)
    monkeypatch.setenv("COLUMNS", "80")
    render_funnel(config, "recruiting", list(evaluate_funnels(config, counts(), AT)), AT, None)
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert not any("…" in line for line in lines), "\n".join(lines)  # the names were cut to outreach_emails_…
    assert any("outreach_emails_sent" in line for line in lines)
    assert any("40.0% (bob)" in line for line in lines)  # the benchmark beside its owner
