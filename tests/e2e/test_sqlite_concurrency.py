"""Many writers on one SQLite file: 20 sources syncing at once beside `syncd record` and `syncd backfill`.

Each is a separate process, as a user runs them. A deferred transaction that reads then writes is
refused at once ("database is locked") when another writer holds the lock; every write now takes
the lock up front, so all of them wait their turn and none fails.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import create_engine, select

from syncd.store.models import DAILY_COUNTS
from tests.processes import SYNCD

SOURCES = [f"s{n:02d}" for n in range(1, 21)]
BACKFILL_DAYS = 12


def truth(source: str, day: date) -> int:
    """The fake API's count of `source` on `day`."""
    return (int(source[1:]) * 7 + day.toordinal()) % 13 + 1


class _CountHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        query = parse_qs(urlparse(self.path).query)
        body = json.dumps({"count": truth(query["src"][0], date.fromisoformat(query["day"][0]))}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def count_api() -> Iterator[str]:
    """A loopback JSON API answering `{"count": n}` per source and day."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CountHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _config(api: str, database: Path) -> str:
    lines = [f"database_url: sqlite:///{database}", "sources:"]
    for name in SOURCES:
        lines += [
            f"  {name}:",
            "    connector: http_json",
            f"    url: {api}/count?src={name}&day={{day}}",
            "    count_path: count",
            "    metric: calls",
            "    auth_header: null",
            "    lookback: 3d",
        ]
    lines += ["  desk:", "    connector: push", "    token: push-token-0000-0000-0001"]
    return "\n".join(lines) + "\n"


def test_twenty_sources_a_record_and_a_backfill_share_one_sqlite_file(count_api: str, tmp_path: Path) -> None:
    database = tmp_path / "syncd.db"
    config = tmp_path / "syncd.yaml"
    config.write_text(_config(count_api, database))
    today = datetime.now(UTC).date()
    since = today - timedelta(days=BACKFILL_DAYS)
    cfg = ["--config", str(config)]
    # The schema first, so the processes race on data, not on creating tables.
    subprocess.run([SYNCD, "db", "upgrade", *cfg], check=True, capture_output=True, timeout=60)
    commands = {
        "sync": [SYNCD, "sync", "--once", *cfg],
        "backfill": [SYNCD, "backfill", "--since", since.isoformat(), "--source", "s01", *cfg],
        **{
            f"record{n}": [
                SYNCD,
                "record",
                "--source",
                "desk",
                "--metric",
                "calls",
                "--subject",
                f"p{n}",
                *cfg,
                "--day",
                (today - timedelta(days=n)).isoformat(),
                "--value",
                str(10 + n),
            ]
            for n in range(2)
        },
    }
    running = {
        name: subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for name, args in commands.items()
    }
    outputs = {name: proc.communicate(timeout=120)[0].decode() for name, proc in running.items()}
    for name, proc in running.items():
        assert proc.returncode == 0, f"{name} failed:\n{outputs[name]}"
        assert "locked" not in outputs[name]

    engine = create_engine(f"sqlite:///{database}")
    columns = DAILY_COUNTS.c
    with engine.connect() as connection:
        rows = connection.execute(
            select(columns.source, columns.metric, columns.subject, columns.day, columns.value)
        ).all()
    engine.dispose()
    stored = {(r.source, r.subject, r.day): r.value for r in rows}
    expected_pulled = {
        (name, "all", today - timedelta(days=back)): truth(name, today - timedelta(days=back))
        for name in SOURCES
        for back in range(4)
    }
    expected_pulled.update(
        {
            ("s01", "all", since + timedelta(days=n)): truth("s01", since + timedelta(days=n))
            for n in range(BACKFILL_DAYS)
        }
    )
    for key, value in expected_pulled.items():
        assert stored.get(key) == value, key
    # Nothing beyond the ground truth: every pulled row holds the API's count.
    assert all(value == truth(src, day) for (src, _, day), value in stored.items() if src != "desk")
    assert {key: value for key, value in stored.items() if key[0] == "desk"} == {
        ("desk", f"p{n}", today - timedelta(days=n)): 10 + n for n in range(2)
    }
