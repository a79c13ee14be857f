"""Goal versions: a target renegotiated mid-period, and `status --as-of` using the goal as it stood."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from syncd.store import create_engine_for, upgrade
from syncd.store.goal_history import goals_as_of, load_goals_as_of, record_config_goals
from syncd.store.goal_repository import load_goal_versions
from tests.fakes import make_config

CONFIG = """
people:
  alice: {identities: {lemlist: alice@acme.io}}
  bob: {identities: {lemlist: bob@acme.io}}
sources:
  lemlist: {connector: lemlist, api_key: "${LEMLIST_API_KEY}"}
kpis:
  emails: {source: lemlist, metric: emails_sent, per_person: true}
goals:
  - {kpi: emails, owner: alice, period: month, target: TARGET}
  - {kpi: emails, owner: bob, period: month, target: 100}
"""
T1 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
T2 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def test_versions_follow_configuration_changes(tmp_path: Path):
    engine = create_engine_for(f"sqlite:///{tmp_path / 'h.db'}")
    upgrade(engine)
    first = make_config(CONFIG.replace("TARGET", "400"))
    assert record_config_goals(engine, first, T1) == 2
    assert record_config_goals(engine, first, T1 + timedelta(hours=1)) == 0  # nothing changed, nothing written

    renegotiated = make_config(CONFIG.replace("TARGET", "450"))
    assert record_config_goals(engine, renegotiated, T2) == 2  # alice's version closed, a new one opened
    versions = load_goal_versions(engine)
    alice = [v for v in versions if v.goal_key == "emails|alice|month"]
    assert [(v.target, v.effective_from, v.effective_to) for v in alice] == [(400, T1, T2), (450, T2, None)]

    assert [g.target for g in load_goals_as_of(engine, renegotiated, T2 - timedelta(seconds=1)).goals] == [400, 100]
    assert [g.target for g in load_goals_as_of(engine, renegotiated, T2).goals] == [450, 100]
    assert [g.target for g in load_goals_as_of(engine, renegotiated, T1 - timedelta(days=1)).goals] == [400, 100]

    # Removing bob's goal closes its version; as of before the removal it still counts.
    only_alice = make_config(
        CONFIG.replace("TARGET", "450").replace("  - {kpi: emails, owner: bob, period: month, target: 100}\n", "")
    )
    t3 = T2 + timedelta(days=2)
    assert record_config_goals(engine, only_alice, t3) == 1
    assert [g.owner for g in load_goals_as_of(engine, only_alice, t3 + timedelta(hours=1)).goals] == ["alice"]
    assert [g.owner for g in load_goals_as_of(engine, only_alice, t3 - timedelta(hours=1)).goals] == ["alice", "bob"]


def test_goals_without_history_come_from_the_configuration():
    config = make_config(CONFIG.replace("TARGET", "400"))
    assert goals_as_of(config, [], T1) == config.goals


def test_status_now_reads_the_file_and_as_of_reads_the_stored_versions(tmp_path: Path):
    import json

    from click.testing import CliRunner

    from syncd.cli import main

    db = tmp_path / "h.db"
    path = tmp_path / "syncd.yaml"
    engine = create_engine_for(f"sqlite:///{db}")
    upgrade(engine)
    # The daemon stored the 400 version; then the file changed to 450 and nothing recorded it yet.
    record_config_goals(engine, make_config(CONFIG.replace("TARGET", "400")), T1)
    engine.dispose()
    path.write_text(f"database_url: sqlite:///{db}\n" + CONFIG.replace("TARGET", "450"))

    def targets(*args: str) -> list[float]:
        env = {"LEMLIST_API_KEY": "k" * 20}
        result = CliRunner().invoke(main, ["status", "--format", "json", "--config", str(path), *args], env=env)
        assert result.exit_code == 0, result.output
        return [goal["target"] for goal in json.loads(result.output)]

    assert targets() == [450, 100]  # now: the file is the truth
    assert targets("--as-of", (T1 + timedelta(days=1)).isoformat()) == [400, 100]  # the stored version then
