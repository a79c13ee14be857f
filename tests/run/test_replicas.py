"""Three real `syncd run` replicas on one PostgreSQL schema, against a loopback fake that counts requests.

One replica is killed (SIGKILL, so it cannot hand its leases back): its sources must move to the
others within the lease time, every source must be synced once per interval (± one) and never by
two replicas at once, and every surviving replica must serve the same, exact goal values.
"""

from __future__ import annotations

import itertools
import json
import signal
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.processes import Process, free_port, wait_until

pytestmark = pytest.mark.postgres

SOURCES = ("s0", "s1", "s2", "s3", "s4", "s5")
INTERVAL = 2.0
LEASE = 4.0


def items_of(source: str) -> int:
    """How many events the fake reports today for `source`: distinct per source, so a mix-up shows."""
    return 3 * (SOURCES.index(source) + 1)


class CountingVendor:
    """A JSON API that answers every source's path with its fixed items and remembers when each was asked."""

    def __init__(self) -> None:
        self.requests: dict[str, list[float]] = {s: [] for s in SOURCES}
        self.lock = threading.Lock()
        today = datetime.now(UTC).date().isoformat()
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                source = self.path.strip("/").split("?")[0]
                with vendor.lock:
                    vendor.requests.setdefault(source, []).append(time.monotonic())
                body = json.dumps({"items": [{"at": f"{today}T00:00:00Z"}] * items_of(source)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def times(self, source: str) -> list[float]:
        with self.lock:
            return list(self.requests[source])


@pytest.fixture
def vendor() -> Iterator[CountingVendor]:
    fake = CountingVendor()
    fake.thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()


def write_config(path: Path, database_url: str, vendor_url: str) -> None:
    sources = "\n".join(
        f"  {s}: {{connector: http_json, url: '{vendor_url}/{s}', auth_header: null, metric: calls,"
        f" items_path: items, date_field: at, interval: {INTERVAL:g}s}}"
        for s in SOURCES
    )
    kpis = "\n".join(f"  k_{s}: {{source: {s}, metric: calls}}" for s in SOURCES)
    goals = "\n".join(f"  - {{kpi: k_{s}, owner: ops, period: month, target: 100}}" for s in SOURCES)
    path.write_text(
        # The background backfill of the forecast's weeks is legitimate traffic but would blur the
        # once-per-interval count this test is about: it is switched off here.
        f"database_url: '{database_url}'\nlease: {LEASE:g}s\nauto_backfill: false\nteams: {{ops: {{}}}}\n"
        f"sources:\n{sources}\nkpis:\n{kpis}\ngoals:\n{goals}\n"
    )


def goal_values(base_url: str) -> dict[str, float]:
    goals = httpx.get(f"{base_url}/api/v1/goals", timeout=5).json()
    return {goal["kpi"]: goal["value"] for goal in goals}


def holders(database_url: str) -> dict[str, str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return {
                row.source: row.holder for row in connection.execute(text("SELECT source, holder FROM source_leases"))
            }
    finally:
        engine.dispose()


def test_three_replicas_share_the_sources_and_survive_one_killed(
    postgres_schema_url: str, vendor: CountingVendor, tmp_path: Path
) -> None:
    config = tmp_path / "syncd.yaml"
    write_config(config, postgres_schema_url, vendor.url)
    ports = [free_port() for _ in range(3)]
    replicas: list[Process] = []
    try:
        # All three start together: the schema upgrade and the goal versions must not race.
        for i, port in enumerate(ports):
            env = {"PATH": str(Path(sys.executable).parent), "SYNCD_LISTEN": f"127.0.0.1:{port}"}
            args = [sys.executable, "-c", "from syncd.cli import main; main()", "run", "--config", str(config)]
            replicas.append(Process(f"replica{i}", args, tmp_path, env=env))
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url in urls:
            wait_until(lambda url=url: httpx.get(f"{url}/readyz", timeout=2).status_code == 200, timeout=30, what=url)

        # Every replica holds some sources once they have all renewed; nobody holds everything.
        def shared() -> dict[str, str] | None:
            held = holders(postgres_schema_url)
            shares = sorted(list(held.values()).count(h) for h in set(held.values()))
            return held if len(held) == len(SOURCES) and shares == [2, 2, 2] else None

        # Fair shares: ceil(6 / 3) sources each, whatever order the replicas came up in.
        before = wait_until(shared, timeout=4 * LEASE + 5, what="the sources shared evenly by three replicas")

        # Kill the replica that holds s0, without letting it give its leases back.
        pid_of_s0 = int(before["s0"].split("-")[-2])
        victim = next(r for r in replicas if r.proc.pid == pid_of_s0)
        orphaned = sorted(s for s, h in before.items() if h == before["s0"])
        victim.proc.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        survivors = [url for r, url in zip(replicas, urls, strict=True) if r is not victim]

        def taken_over() -> float | None:
            held = holders(postgres_schema_url)
            return time.monotonic() - killed_at if all(held[s] != before["s0"] for s in orphaned) else None

        takeover = wait_until(taken_over, timeout=2 * LEASE + 5, what="the takeover of the dead replica's sources")
        # The lease lasts LEASE seconds from the last renewal and others claim every LEASE/3.
        assert takeover <= LEASE + LEASE / 3 + 1.0
        for source in orphaned:
            wait_until(lambda s=source: vendor.times(s) and vendor.times(s)[-1] > killed_at, timeout=10, what=source)

        # Counts are exact and the same on every survivor (a non-holder re-reads them each tick).
        expected = {f"k_{s}": float(items_of(s)) for s in SOURCES}
        for url in survivors:
            wait_until(lambda url=url: goal_values(url) == expected, timeout=25, what=f"exact values on {url}")
        observed_until = time.monotonic()
    except AssertionError:
        for replica in replicas:
            print(f"--- {replica.name}\n{replica.output()[-4000:]}")
        raise
    finally:
        for replica in replicas:
            replica.stop()

    for source in SOURCES:
        times = [t for t in vendor.times(source) if t <= observed_until]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        # Never two callers: consecutive requests are an interval apart (the sync's own time adds a little).
        assert min(gaps) >= INTERVAL * 0.9, (source, gaps)
        # Once per interval, ± one; the takeover of a dead replica's source may cost one lease time.
        span = times[-1] - times[0]
        allowance = (LEASE + LEASE / 3 + 1.0) if source in orphaned else 0.0
        assert len(times) - 1 <= span / INTERVAL + 1, (source, gaps)
        assert len(times) - 1 >= (span - allowance) / (INTERVAL + 0.5) - 1, (source, gaps)
