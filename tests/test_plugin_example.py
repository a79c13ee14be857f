"""A third-party connector package, installed like any plugin, is found through the entry point."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import SYNCD

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "syncd-connector-calendly"


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("plugin")
    # Built from a copy: setuptools leaves build/ and egg-info beside the sources it builds.
    source = tmp_path_factory.mktemp("source") / EXAMPLE.name
    shutil.copytree(EXAMPLE, source)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    return target


def test_installed_plugin_is_listed_and_configurable(plugin_path: Path, tmp_path: Path):
    env = {**os.environ, "PYTHONPATH": str(plugin_path)}
    listed = subprocess.run([SYNCD, "connectors", "--format", "json"], capture_output=True, text=True, env=env)
    assert listed.returncode == 0, listed.stderr
    catalog = {entry["type"]: entry for entry in json.loads(listed.stdout)}
    assert [m["name"] for m in catalog["calendly"]["metrics"]] == ["meetings_booked"]

    config = tmp_path / "syncd.yaml"
    config.write_text(
        "people: {alice: {identities: {cal: alice@acme.io}}}\n"
        "sources: {cal: {connector: calendly, api_key: tok-123456, organization: 'https://api.calendly.com/organizations/X'}}\n"
        "kpis: {meetings: {source: cal, metric: meetings_booked, per_person: true}}\n"
        "goals: [{kpi: meetings, owner: alice, period: week, target: 10}]\n"
    )
    checked = subprocess.run(
        [SYNCD, "check", "--offline", "--config", str(config)], capture_output=True, text=True, env=env
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_without_the_plugin_the_type_is_unknown(tmp_path: Path):
    config = tmp_path / "syncd.yaml"
    config.write_text("sources: {cal: {connector: calendly, api_key: tok-123456, organization: x}}\n")
    checked = subprocess.run([SYNCD, "check", "--offline", "--config", str(config)], capture_output=True, text=True)
    assert checked.returncode == 2
    assert "sources.cal.connector: unknown connector 'calendly'" in checked.stderr
