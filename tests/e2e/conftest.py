"""Processes for end-to-end tests: the sandbox fakes and `syncd run`, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.processes import Process, wait_until

SYNCD = str(Path(sys.executable).with_name("syncd"))


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
        "sandbox", [sys.executable, "-m", "syncd.sandbox", "--events", str(events_file), "--json"], tmp_path
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
