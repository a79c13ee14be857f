"""A real `syncd run` against the sandbox, with its database behind a TcpProxy we can break."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from syncd.sandbox.server import DEMO_KIT_API_KEY, DEMO_LEMLIST_API_KEY
from tests.faults.fault_proxy import TcpProxy
from tests.processes import SYNCD, Process, free_port, start_sandbox, wait_until

__all__ = ["ALICE_EMAILS", "DaemonRig", "postgres_database", "start_daemon"]

ALICE_EMAILS = 6

CONFIG = """
timezone: UTC
database_url: {database_url}
listen: 127.0.0.1:{port}
teams:
  growth: {{}}
people:
  alice: {{team: growth, identities: {{lemlist: alice@acme.io}}}}
sources:
  lemlist: {{connector: lemlist, api_key: "${{LEMLIST_API_KEY}}", base_url: "{lemlist_url}", interval: 1s}}
kpis:
  emails: {{source: lemlist, metric: emails_sent, per_person: true}}
goals:
  - {{kpi: emails, owner: alice, period: month, target: 40}}
"""


@dataclass
class DaemonRig:
    """The daemon process, its base URL and the figures it serves."""

    daemon: Process
    base: str
    latencies: dict[str, list[float]] = field(default_factory=dict)

    def get(self, path: str, timeout: float = 5.0) -> httpx.Response:
        """GET `path`, remembering how long the answer took."""
        started = time.monotonic()
        response = httpx.get(self.base + path, timeout=timeout)
        self.latencies.setdefault(path, []).append(time.monotonic() - started)
        return response

    def alice_value(self) -> float | None:
        """The goal value on /metrics, or None before the first evaluation."""
        for family in text_string_to_metric_families(self.get("/metrics").text):
            for sample in family.samples:
                if sample.name == "syncd_goal_value" and sample.labels.get("owner") == "alice":
                    return sample.value
        return None

    def wait_value(self, value: float, timeout: float = 60) -> None:
        """Wait until the goal shows `value`."""
        wait_until(lambda: self.alice_value() == value, timeout=timeout, what=f"goal value {value}")

    def worst(self, path: str) -> float:
        """The slowest answer to `path` so far, in seconds."""
        return max(self.latencies.get(path, [0.0]))


def events_this_month() -> dict[str, object]:
    """Alice's emails this month, spread over the last hours (inside the current month at any time)."""
    now = datetime.now(UTC)
    start = max(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0), now - timedelta(hours=6))
    step = (now - start) / (ALICE_EMAILS + 1)
    return {
        "lemlist": [
            {"type": "emailsSent", "createdAt": (start + step * (i + 1)).isoformat(), "sendUserEmail": "alice@acme.io"}
            for i in range(ALICE_EMAILS)
        ],
        "kit": [],
    }


def start_daemon(processes: list[Process], tmp_path: Path, database_url: str, name: str = "daemon") -> DaemonRig:
    """Start the sandbox (once per test) and `syncd run` on `database_url`."""
    if not any(p.name == "sandbox" for p in processes):
        urls = start_sandbox(processes, tmp_path, events_this_month())
        (tmp_path / "lemlist_url").write_text(urls["lemlist_url"])
    port = free_port()
    config = tmp_path / f"{name}.yaml"
    config.write_text(
        CONFIG.format(database_url=database_url, port=port, lemlist_url=(tmp_path / "lemlist_url").read_text())
    )
    env = {**os.environ, "LEMLIST_API_KEY": DEMO_LEMLIST_API_KEY, "KIT_API_KEY": DEMO_KIT_API_KEY}
    env.pop("SYNCD_DATABASE_URL", None)
    daemon = Process(name, [SYNCD, "run", "--config", str(config)], tmp_path, env=env)
    processes.append(daemon)
    rig = DaemonRig(daemon, f"http://127.0.0.1:{port}")
    wait_until(lambda: rig.get("/healthz").status_code == 200, timeout=30, what="/healthz")
    return rig


@pytest.fixture
def postgres_database() -> Iterator[tuple[str, TcpProxy]]:
    """A fresh PostgreSQL database and a TcpProxy in front of its server: (URL through the proxy, proxy)."""
    base = os.environ.get("SYNCD_TEST_POSTGRES_URL")
    if not base:
        if os.environ.get("CI") == "true":
            pytest.fail("SYNCD_TEST_POSTGRES_URL is not set: PostgreSQL tests must run in CI")
        pytest.skip("SYNCD_TEST_POSTGRES_URL is not set")
    name = f"syncd_faults_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    try:
        yield url.set(database=name, host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False), proxy
    finally:
        proxy.close()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
