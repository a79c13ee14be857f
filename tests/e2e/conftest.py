"""Processes for end-to-end tests: the sandbox fakes and `syncd run`, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

SYNCD = str(Path(sys.executable).with_name("syncd"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(predicate, *, timeout: float, what: str, interval: float = 0.2):
    """Poll `predicate` until it returns a truthy value; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
        except (httpx.HTTPError, OSError, ValueError, KeyError, IndexError) as exc:
            last_error = exc
            result = None
        if result:
            return result
        time.sleep(interval)  # real processes on the real clock: polling is the only way to observe them
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_error})")


class Process:
    """A child process whose output goes to a file, stopped at teardown."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        self.handle = log.open("wb")
        self.proc = subprocess.Popen(args, stdout=self.handle, stderr=subprocess.STDOUT, env=env)

    def output(self) -> str:
        if not self.handle.closed:
            self.handle.flush()
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 10) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.handle.close()
        return int(self.proc.returncode)


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in reversed(started):
        process.stop()


def start_sandbox(processes: list[Process], tmp_path: Path, events: dict[str, object]) -> dict[str, str]:
    """Run `python -m syncd.sandbox` with explicit events; return its URLs and keys."""
    events_file = tmp_path / "events.json"
    events_file.write_text(json.dumps(events))
    sandbox = Process(
        [sys.executable, "-m", "syncd.sandbox", "--events", str(events_file), "--json"],
        tmp_path / "sandbox.log",
    )
    processes.append(sandbox)
    line = wait_until(lambda: sandbox.output().strip().splitlines()[0], timeout=20, what="the sandbox's URLs")
    return dict(json.loads(line))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for one test: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'syncd.db'}"
        return
    base = os.environ.get("SYNCD_TEST_POSTGRES_URL")
    if not base:
        if os.environ.get("CI") == "true":
            pytest.fail("SYNCD_TEST_POSTGRES_URL is not set: PostgreSQL tests must run in CI")
        pytest.skip("SYNCD_TEST_POSTGRES_URL is not set")
    name = f"syncd_e2e_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
