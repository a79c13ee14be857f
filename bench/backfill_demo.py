"""`syncd backfill` of the demo configuration against the sandbox: sources one at a time vs concurrently.

The sandbox runs as `python -m syncd.sandbox --vendors all` on free ports (the demo's own ports may be
taken by a running `make run`); SYNCD_DEMO_<VENDOR>_URL points config/syncd.yaml's sources at it.
Each run backfills 90 days into a fresh SQLite file. The baseline in the same run is
`--concurrency 1` (the old, sequential behaviour); the figure is the ratio of the two wall times.
The vendors' fakes enforce their real rate limits, so most of the time is waiting on them.

`python -m bench backfill_demo` or `python bench/backfill_demo.py [EXTRA BACKFILL ARGS...]`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
HISTORY_DAYS = 90


def _start_sandbox() -> tuple[subprocess.Popen[str], dict[str, str]]:
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "syncd.sandbox", "--vendors", "all", "--json"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert sandbox.stdout is not None
    line = sandbox.stdout.readline()
    vendors = json.loads(line)["vendors"]
    env = {f"SYNCD_DEMO_{name.upper()}_URL": info["url"] for name, info in vendors.items()}
    return sandbox, env


def _time_backfill(env: dict[str, str], db: Path, extra: list[str]) -> tuple[float, int]:
    since = (datetime.now(UTC).date() - timedelta(days=HISTORY_DAYS)).isoformat()
    syncd = str(Path(sys.executable).parent / "syncd")
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own syncd, with arguments built here
        [syncd, "backfill", "--since", since, "--config", "config/syncd.yaml", *extra],
        cwd=ROOT,
        env={**os.environ, **env, "SYNCD_DATABASE_URL": f"sqlite:///{db}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return time.perf_counter() - started, done.returncode


def main(argv: list[str] | None = None) -> None:
    """Time the sequential baseline and the default concurrent backfill; print both and the ratio."""
    runs: list[tuple[str, list[str]]] = (
        [("given", argv)] if argv else [("sequential", ["--concurrency", "1"]), ("concurrent", [])]
    )
    sandbox, env = _start_sandbox()
    try:
        with TemporaryDirectory() as tmp:
            seconds: dict[str, float] = {}
            for name, extra in runs:
                took, code = _time_backfill(env, Path(tmp) / f"{name}.db", extra)
                seconds[name] = took
                print(f"{name:<11} {took:7.1f} s  (exit {code}, {' '.join(extra) or 'default options'})")
            if "sequential" in seconds:
                print(f"concurrent / sequential: {seconds['concurrent'] / seconds['sequential']:.2f}")
    finally:
        sandbox.terminate()
        sandbox.wait()


if __name__ == "__main__":
    main(sys.argv[1:])
