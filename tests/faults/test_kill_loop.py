"""SIGKILL at random moments (`syncd run` and `sync --once`), on SQLite and PostgreSQL: no count lost or doubled.

Counts and the cursor are written in one transaction, so after any kill the stored counts are
either what they were before the sync or what a fault-free sync stores; never a part, never twice.
SIGTERM at random moments must end the daemon within 10 s with exit 0.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from syncd.sandbox.server import DEMO_KIT_API_KEY, DEMO_LEMLIST_API_KEY
from syncd.store.models import DAILY_COUNTS
from tests.faults.fault_proxy import TcpProxy
from tests.faults.rig import ALICE_EMAILS, start_daemon
from tests.processes import SYNCD, Process

pytestmark = pytest.mark.faults

KILLS_OF_RUN = 12
KILLS_OF_SYNC_ONCE = 12
SIGTERMS = 5


def stored(url: str) -> dict[tuple[str, str, date], float]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(DAILY_COUNTS.c.metric, DAILY_COUNTS.c.subject, DAILY_COUNTS.c.day, DAILY_COUNTS.c.value)
            ).all()
    except Exception:  # before the first migration there is no table yet
        return {}
    finally:
        engine.dispose()
    return {(r.metric, r.subject, r.day): r.value for r in rows}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kill.db'}"
        return
    url, _proxy = request.getfixturevalue("postgres_database")
    proxy: TcpProxy = _proxy
    assert proxy.port  # the proxy forwards; the kills are the fault here
    yield url


def test_kills_never_lose_or_double_a_count(processes: list[Process], tmp_path: Path, database: str) -> None:
    rng = random.Random(20261127)  # reproducible kill moments
    rig = start_daemon(processes, tmp_path, database, name="first")
    rig.wait_value(ALICE_EMAILS)
    good = stored(database)
    assert sum(good.values()) == ALICE_EMAILS
    rig.daemon.stop()
    config = tmp_path / "first.yaml"
    env = {**os.environ, "LEMLIST_API_KEY": DEMO_LEMLIST_API_KEY, "KIT_API_KEY": DEMO_KIT_API_KEY}
    env.pop("SYNCD_DATABASE_URL", None)

    for n in range(KILLS_OF_RUN):
        daemon = Process(f"run{n}", [SYNCD, "run", "--config", str(config)], tmp_path, env=env)
        time.sleep(rng.uniform(0.3, 3.0))
        daemon.proc.send_signal(signal.SIGKILL)
        daemon.proc.wait()
        daemon.stop()
        assert stored(database) == good, f"after kill {n} of syncd run"
    for n in range(KILLS_OF_SYNC_ONCE):
        once = subprocess.Popen(
            [SYNCD, "sync", "--once", "--config", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.2, 2.5))
        once.send_signal(signal.SIGKILL)
        once.wait()
        assert stored(database) == good, f"after kill {n} of sync --once"
    for n in range(SIGTERMS):
        daemon = Process(f"term{n}", [SYNCD, "run", "--config", str(config)], tmp_path, env=env)
        time.sleep(rng.uniform(0.3, 3.0))
        started = time.monotonic()
        daemon.proc.send_signal(signal.SIGTERM)
        # 0 once the handler is installed; before that (still importing) the default action ends it.
        assert daemon.proc.wait(timeout=10) in (0, -signal.SIGTERM), daemon.output()
        print(f"SIGTERM {n}: exit after {time.monotonic() - started:.2f} s")
        daemon.stop()
        assert "Traceback" not in daemon.output()

    final = subprocess.run([SYNCD, "sync", "--once", "--config", str(config)], env=env, capture_output=True, text=True)
    assert final.returncode == 0, final.stdout + final.stderr
    assert stored(database) == good
