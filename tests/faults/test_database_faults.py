"""Database outages against a real `syncd run`: silent (a frozen proxy) and refused, at start and mid-run.

Each asserts: the process stays alive, /healthz, /metrics and the status page keep answering,
/readyz tells the truth, counts equal the fault-free run's, and SIGTERM ends it within 10 s.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.faults.fault_proxy import TcpProxy
from tests.faults.rig import ALICE_EMAILS, DaemonRig, start_daemon
from tests.processes import Process, wait_until

# Every liveness-side endpoint answers within this, whatever the database does (a client timeout,
# not a timing assertion: a hung endpoint fails it, a slow CI machine does not).
ANSWER_WITHIN_S = 3.0
SIGTERM_EXIT_WITHIN_S = 10.0


def poll_live_endpoints(rig: DaemonRig, seconds: float) -> None:
    """Hit /healthz, /metrics and the status page for `seconds`; each must answer 200 in time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for path in ("/healthz", "/metrics", "/"):
            assert rig.get(path, timeout=ANSWER_WITHIN_S).status_code == 200, path
        assert rig.daemon.proc.poll() is None, rig.daemon.output()
        time.sleep(0.2)


def sigterm_seconds(daemon: Process) -> float:
    """Send SIGTERM and return how long the process took to exit (fails past the limit)."""
    started = time.monotonic()
    daemon.proc.send_signal(signal.SIGTERM)
    code = daemon.proc.wait(timeout=SIGTERM_EXIT_WITHIN_S)
    took = time.monotonic() - started
    assert code == 0, daemon.output()
    return took


@pytest.mark.postgres
def test_a_silent_database_never_freezes_the_daemon(
    processes: list[Process], tmp_path: Path, postgres_database: tuple[str, TcpProxy]
) -> None:
    url, proxy = postgres_database
    rig = start_daemon(processes, tmp_path, url)
    rig.wait_value(ALICE_EMAILS)
    assert rig.get("/readyz").status_code == 200

    proxy.freeze()  # connections stay open, nothing comes back: a network partition
    poll_live_endpoints(rig, 6.0)
    wait_until(lambda: rig.get("/readyz", timeout=ANSWER_WITHIN_S + 5).status_code == 503, timeout=20, what="unready")
    assert rig.alice_value() == ALICE_EMAILS  # served from the snapshot, unchanged

    proxy.thaw()  # the partition heals: stuck connections are reset, the daemon catches up
    try:
        wait_until(lambda: rig.get("/readyz").status_code == 200, timeout=40, what="/readyz after the outage")
    except AssertionError as exc:
        # Why it stayed unready is in the daemon's log (which write failed, what the probe said).
        unready = rig.get("/readyz").text
        raise AssertionError(f"{exc}\n/readyz: {unready}\n{rig.daemon.output()[-6000:]}") from None
    rig.wait_value(ALICE_EMAILS)

    proxy.freeze()
    poll_live_endpoints(rig, 2.0)
    took = sigterm_seconds(rig.daemon)
    print(
        f"silent database: worst /healthz {rig.worst('/healthz') * 1000:.0f} ms, /metrics "
        f"{rig.worst('/metrics') * 1000:.0f} ms, status page {rig.worst('/') * 1000:.0f} ms; SIGTERM exit {took:.2f} s"
    )
    assert "Traceback" not in rig.daemon.output()


@pytest.mark.postgres
def test_a_database_down_at_start_is_waited_for(
    processes: list[Process], tmp_path: Path, postgres_database: tuple[str, TcpProxy]
) -> None:
    url, proxy = postgres_database
    proxy.refuse()
    rig = start_daemon(processes, tmp_path, url)

    poll_live_endpoints(rig, 3.0)
    assert rig.get("/readyz").status_code == 503
    assert rig.daemon.proc.poll() is None  # no exit 1, no CrashLoopBackOff

    proxy.open()
    wait_until(lambda: rig.get("/readyz").status_code == 200, timeout=45, what="/readyz once the database is up")
    rig.wait_value(ALICE_EMAILS)
    took = sigterm_seconds(rig.daemon)
    print(f"database down at start: SIGTERM exit {took:.2f} s")
    assert "Traceback" not in rig.daemon.output()


@pytest.mark.postgres
@pytest.mark.faults
def test_sigterm_while_waiting_for_a_refused_database(
    processes: list[Process], tmp_path: Path, postgres_database: tuple[str, TcpProxy]
) -> None:
    url, proxy = postgres_database
    proxy.refuse()
    rig = start_daemon(processes, tmp_path, url)
    poll_live_endpoints(rig, 1.0)
    sigterm_seconds(rig.daemon)
