"""SIGHUP on a real `syncd run`: broken files never kill it, a good one applies at once."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.processes import SYNCD, Process, free_port, wait_until

pytestmark = pytest.mark.e2e

TOKEN = "calls-token-0123456789abcdef"
CONFIG = """
database_url: sqlite:///{db}
listen: 127.0.0.1:{port}
people:
  alice: {{identities: {{calls: alice}}}}
sources:
  calls: {{connector: push, token: "{token}"{extra}}}
kpis:
  calls_held: {{source: calls, metric: calls_held, per_person: true}}
goals:
  - {{kpi: calls_held, owner: alice, period: month, target: {target}}}
"""


def gauges(base: str) -> dict[str, float]:
    body = httpx.get(f"{base}/metrics", timeout=5).text
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if not sample.labels or sample.name == "syncd_goal_target"
    }


def test_sighup_with_broken_files_keeps_the_daemon_and_a_good_file_applies(processes: list[Process], tmp_path: Path):
    port = free_port()
    config = tmp_path / "syncd.yaml"

    def write(target: int = 40, extra: str = "") -> None:
        config.write_text(CONFIG.format(db=tmp_path / "s.db", port=port, token=TOKEN, target=target, extra=extra))

    write()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
    daemon = Process("daemon", [SYNCD, "run", "--config", str(config)], tmp_path, env=env)
    processes.append(daemon)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: httpx.get(f"{base}/readyz", timeout=5).status_code == 200, timeout=60, what="/readyz")
    started = gauges(base)
    assert started["syncd_config_last_reload_successful"] == 1
    assert started["syncd_goal_target"] == 40

    broken = [
        lambda: write(extra=", interval: .inf"),  # OverflowError in the loader's duration
        lambda: config.write_bytes(config.read_bytes() + b"# caf\xe9\n"),  # not UTF-8
        lambda: write(target=0),  # a configuration error
    ]
    for breaking in broken:
        breaking()
        daemon.proc.send_signal(signal.SIGHUP)
        wait_until(
            lambda: gauges(base)["syncd_config_last_reload_successful"] == 0, timeout=30, what="the refused reload"
        )
        assert daemon.proc.poll() is None, daemon.output()
        assert gauges(base)["syncd_goal_target"] == 40  # the running configuration stays
        write()  # back to good before the next break
        daemon.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: gauges(base)["syncd_config_last_reload_successful"] == 1, timeout=30, what="a good reload")

    write(target=55)
    daemon.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: gauges(base)["syncd_goal_target"] == 55, timeout=30, what="the new target on /metrics")
    assert gauges(base)["syncd_config_last_reload_successful"] == 1
    assert "Traceback" not in daemon.output()
    assert daemon.stop() == 0
