"""`syncd backfill` of the demo configuration against the sandbox: one source at a time vs concurrently.

The sandbox runs as `python -m syncd.sandbox --vendors all` on free ports (the demo's own may be taken
by a running `make run`); SYNCD_DEMO_<VENDOR>_URL points config/syncd.yaml's sources at it. Each run
backfills `days` days into a fresh SQLite file. The baseline in the same run is `--concurrency 1`
(sources one after another, as before); the figure is the ratio of the two wall times. The fakes
enforce the vendors' rate limits, so much of the time is spent waiting on them: concurrently, the
waits overlap. Past 30 days, X's 15 reads per 15 minutes alone take 15 minutes.

`python -m bench backfill_demo` (21 days), or `python bench/backfill_demo.py DAYS` for another length.
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
DAYS = 21


def _start_sandbox() -> tuple[subprocess.Popen[str], dict[str, str]]:
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "syncd.sandbox", "--vendors", "all", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    assert sandbox.stdout is not None
    vendors = json.loads(sandbox.stdout.readline())["vendors"]
    env = {f"SYNCD_DEMO_{name.upper()}_URL": info["url"] for name, info in vendors.items()}
    return sandbox, env


def _time_backfill(env: dict[str, str], db: Path, days: int, extra: list[str]) -> tuple[float, int, str]:
    since = (datetime.now(UTC).date() - timedelta(days=days)).isoformat()
    syncd = str(Path(sys.executable).parent / "syncd")
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own syncd, with arguments built here
        [syncd, "backfill", "--since", since, "--config", "config/syncd.yaml", *extra],
        cwd=ROOT,
        env={**os.environ, **env, "SYNCD_DATABASE_URL": f"sqlite:///{db}"},
        capture_output=True,
        text=True,
        check=False,
    )
    return time.perf_counter() - started, done.returncode, done.stdout


def main(days: int = DAYS) -> dict[str, float]:
    """Time the sequential baseline and the default concurrent backfill; print both and the ratio."""
    seconds: dict[str, float] = {}
    with TemporaryDirectory() as tmp:
        print(f"demo configuration, {days} days of history, every source")
        for name, extra in (("sequential", ["--concurrency", "1"]), ("concurrent", [])):
            # A fresh sandbox per run: the fakes' rate-limit windows must not carry the first run's requests.
            sandbox, env = _start_sandbox()
            try:
                took, code, out = _time_backfill(env, Path(tmp) / f"{name}.db", days, extra)
            finally:
                sandbox.terminate()
                sandbox.wait()
                if sandbox.stdout is not None:
                    sandbox.stdout.close()
            if code != 0:
                raise RuntimeError(f"the {name} backfill exited {code}:\n{out}")
            seconds[name] = took
            print(f"  {name:<11} {took:7.1f} s  ({' '.join(extra) or 'default options'})")
    print(f"  concurrent / sequential: {seconds['concurrent'] / seconds['sequential']:.2f}")
    return seconds


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else DAYS)
