"""Real child processes for end-to-end tests: free ports, bounded polling, logged processes.

These are real programs on the real clock, so there is no clock to inject: every wait is a poll
with a deadline, and nothing sleeps longer than one poll interval.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

__all__ = ["Process", "free_port", "wait_until"]

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

    def __init__(self, name: str, args: list[str], logs: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log = logs / f"{name}.log"
        self._handle = self.log.open("wb")
        self.proc = subprocess.Popen(args, stdout=self._handle, stderr=subprocess.STDOUT, env=env)

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
