"""Real child processes for end-to-end tests: free ports, bounded polling, logged processes.

These are real programs on the real clock, so there is no clock to inject: every wait is a poll
with a deadline, and nothing sleeps longer than one poll interval.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

__all__ = ["SYNCD", "Process", "free_port", "start_sandbox", "wait_until"]

T = TypeVar("T")


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(predicate: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.25) -> T:
    """Poll `predicate` until it returns something truthy; fail naming `what` after `timeout` seconds."""
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
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_error!r})")


class Process:
    """A child process with its output in a file, stopped (SIGTERM, then SIGKILL) at teardown."""

    def __init__(
        self, name: str, args: list[str], logs: Path, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> None:
        self.name = name
        self.log = logs / f"{name}.log"
        self._handle = self.log.open("wb")
        self.proc = subprocess.Popen(args, stdout=self._handle, stderr=subprocess.STDOUT, env=env, cwd=cwd)

    def output(self) -> str:
        """Return what the process has printed so far."""
        if not self._handle.closed:
            self._handle.flush()
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 10) -> int:
        """Stop the process, wait for it and return its exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._handle.close()
        return int(self.proc.returncode)


SYNCD = str(Path(sys.executable).with_name("syncd"))


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
