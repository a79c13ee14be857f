"""The command line's contract: exit codes, one line per configuration problem, JSON keys."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from syncd.cli import main
from syncd.sandbox.server import DEMO_LEMLIST_API_KEY
from tests.processes import SYNCD, Process, start_sandbox

GOOD = """
timezone: America/New_York
database_url: sqlite:///{db}
people:
  alice: {{identities: {{lemlist: alice@acme.io}}}}
sources:
  lemlist: {{connector: lemlist, api_key: "${{LEMLIST_API_KEY}}", base_url: "{url}"}}
kpis:
  emails: {{source: lemlist, metric: emails_sent, per_person: true}}
goals:
  - {{kpi: emails, owner: alice, period: week, target: 50}}
"""

JSON_KEYS = {
    "kpi", "owner", "team", "period", "start", "deadline", "value", "target", "committed", "expected",
    "pace_ratio", "progress_ratio", "elapsed_ratio", "projected", "required_daily_rate", "buffer_days",
    "hit_probability", "status", "checkpoint", "checkpoints",
}  # fmt: skip


@pytest.fixture
def good_config(tmp_path: Path) -> Path:
    path = tmp_path / "syncd.yaml"
    path.write_text(GOOD.format(db=tmp_path / "s.db", url="http://127.0.0.1:9/api"))
    return path


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env={"LEMLIST_API_KEY": "k" * 20, **(env or {})})


def test_check_offline_accepts_a_good_file(good_config: Path):
    result = run("check", "--offline", "--config", str(good_config))
    assert result.exit_code == 0, result.output
    assert "ok (1 source, 1 KPI, 1 goal, 0 funnels)" in result.output  # not "1 sources"


def test_broken_configuration_exits_2_with_one_line_per_problem(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "timezone: Mars/Olympus\npeople: {alice: {team: nope}}\n"
        "sources: {lemlist: {connector: lemlist, api_key: x, interval: soon}}\n"
    )
    result = run("check", "--offline", "--config", str(path))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == [
        f"{path}: timezone: unknown time zone 'Mars/Olympus' (use an IANA name such as Europe/London)",
        f"{path}: sources.lemlist.interval: invalid duration 'soon' (use a number and s, m, h or d, e.g. 15m)",
    ]
    assert "Traceback" not in result.output


def test_missing_config_file_and_env_default(tmp_path: Path):
    result = run("check", "--offline", env={"SYNCD_CONFIG": str(tmp_path / "none.yaml")})
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"{tmp_path / 'none.yaml'}: file not found",
        "hint: SYNCD_CONFIG names this file; set it to your configuration file, or pass --config FILE",
    ]


def test_no_configuration_anywhere_says_where_one_is_looked_for_and_how_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)  # outside the repository: no config/syncd.yaml here
    for command in (["status"], ["check", "--offline"], ["alertmanager-routes", "--webhook", "http://x/{receiver}"]):
        result = run(*command, env={"SYNCD_CONFIG": None})  # type: ignore[dict-item]
        assert result.exit_code == 2, command
        assert result.output.strip().splitlines() == [
            "config/syncd.yaml: file not found",
            f"hint: with neither --config FILE nor SYNCD_CONFIG, syncd reads config/syncd.yaml under {tmp_path}; "
            "pass --config FILE or set SYNCD_CONFIG=FILE",
            "hint: no configuration yet? `syncd demo` runs a demo team on its own one; "
            "docs/getting-started.md shows how to write yours",
        ], command


def test_a_missing_config_option_file_is_named_as_the_option_s(tmp_path: Path):
    result = run("status", "--config", str(tmp_path / "typo.yaml"))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"{tmp_path / 'typo.yaml'}: file not found",
        "hint: --config names this file; check the path (SYNCD_CONFIG is read only without --config)",
    ]


def test_usage_errors_exit_2(good_config: Path):
    assert run("status", "--as-of", "yesterday", "--config", str(good_config)).exit_code == 2
    assert run("sync", "--once", "--source", "nope", "--config", str(good_config)).exit_code == 2
    assert run("backfill", "--since", "2026-13-01", "--config", str(good_config)).exit_code == 2
    assert run("frobnicate").exit_code == 2


def test_status_json_has_the_contract_keys_and_its_context(good_config: Path):
    result = run("status", "--format", "json", "--as-of", "2026-11-25T12:00:00-05:00", "--config", str(good_config))
    assert result.exit_code == 0, result.output
    (goal,) = json.loads(result.output)
    # CONTRACT §2's keys, plus what a reader needs besides (the API's goal object and the source's health).
    assert set(goal) == JSON_KEYS | {"as_of", "source", "notes", "data_complete", "source_state"}
    assert goal["as_of"] == "2026-11-25T12:00:00-05:00"
    # Week of Mon 23 Nov 2026 in New York: 2.5 of 7 days gone by Wednesday noon.
    assert goal["start"] == "2026-11-23T00:00:00-05:00"
    assert goal["deadline"] == "2026-11-30T00:00:00-05:00"
    assert goal["period"] == "2026-W48"
    assert goal["elapsed_ratio"] == pytest.approx(2.5 / 7)
    # A week goal cannot have week check-ins (a level must be shorter than the period).
    assert (goal["checkpoint"], goal["checkpoints"]) == (None, [])
    assert goal["committed"] is None


def test_status_table(good_config: Path):
    result = run("status", "--as-of", "2026-11-25T12:00:00", "--config", str(good_config))
    assert result.exit_code == 0, result.output
    assert "alice" in result.output
    assert "2026-W48" in result.output


def test_unreachable_database_exits_1_without_password(good_config: Path):
    result = run(
        "db", "upgrade", "--config", str(good_config),
        env={"SYNCD_DATABASE_URL": "postgresql+psycopg://postgres:hunter2-secret@127.0.0.1:1/x"},
    )  # fmt: skip
    assert result.exit_code == 1
    assert "hunter2-secret" not in result.output
    assert result.output.startswith("error: ")


def test_connectors_lists_settings_and_metrics():
    result = run("connectors", "--format", "json")
    assert result.exit_code == 0
    catalog = {entry["type"]: entry for entry in json.loads(result.output)}
    lemlist = catalog["lemlist"]
    assert [m["name"] for m in lemlist["metrics"]] == ["emails_sent", "emails_replied"]
    api_key = next(s for s in lemlist["settings"] if s["name"] == "api_key")
    assert api_key["secret"] is True


def test_sync_once_exit_codes_against_the_sandbox(processes: list[Process], tmp_path: Path):
    urls = start_sandbox(processes, tmp_path, {"lemlist": [], "kit": []})
    config = tmp_path / "syncd.yaml"
    config.write_text(GOOD.format(db=tmp_path / "s.db", url=urls["lemlist_url"]))
    env = {**os.environ, "LEMLIST_API_KEY": DEMO_LEMLIST_API_KEY}
    ok = subprocess.run([SYNCD, "sync", "--once", "--config", str(config)], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("lemlist: ok, 0 daily counts for ")
    wrong_key = "wrong-key-that-is-long-enough"
    bad = subprocess.run(
        [SYNCD, "sync", "--once", "--config", str(config)],
        capture_output=True, text=True, env={**env, "LEMLIST_API_KEY": wrong_key},
    )  # fmt: skip
    assert bad.returncode == 1
    assert "lemlist: FAILED (auth)" in bad.stderr
    assert wrong_key not in bad.stdout + bad.stderr
    checked = subprocess.run(
        [SYNCD, "check", "--config", str(config)],
        capture_output=True,
        text=True,
        env={**env, "LEMLIST_API_KEY": wrong_key},
    )
    assert checked.returncode == 1
    assert "lemlist: FAILED: the vendor rejected the credential" in checked.stdout
