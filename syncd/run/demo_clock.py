"""The demo's simulated time, shared with every command run beside it.

`syncd demo --speed N` runs its sandbox and daemon on a `ScaledClock` that is ahead of real time
as soon as it starts, so the counts it stores belong to simulated days. A command run beside it
(`syncd status`, `record`, `sync --once`, ...) on the real clock would see those days "in the
future" and record today's count on a day the demo has left behind. So the demo writes its
timeline into a small file beside its SQLite database (`syncd-demo.db-clock.json`): at start the
real instant, the simulated instant and the speed; at stop the simulated instant it stopped at,
with speed 0. Every command on that database reads the file and runs at the same simulated "now".

The simulated clock never goes backwards, across restarts either: a restarted demo resumes where
the last one stopped (or at real now, when real time has caught up), so stored counts are never
re-read lower. A database without the file (production, PostgreSQL, the tests) runs on real time.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from syncd.clock import Clock, ScaledClock, SystemClock

__all__ = ["DemoTimeline", "clock_for_database", "demo_clock_path", "read_timeline", "write_timeline"]

log = logging.getLogger(__name__)

CLOCK_FILE_SUFFIX = "-clock.json"


@dataclass(frozen=True)
class DemoTimeline:
    """Simulated time as a line through one anchor: at real `real`, simulated `simulated`, `speed`x.

    Speed 0 is a stopped demo: its simulated time stands at `simulated`.
    """

    real: datetime
    simulated: datetime
    speed: float

    def at(self, real_now: datetime) -> datetime:
        """Return the simulated instant at `real_now`, never behind real time."""
        elapsed = max(0.0, (real_now - self.real).total_seconds())
        return max(real_now, self.simulated + timedelta(seconds=elapsed * self.speed))


def demo_clock_path(database_url: str) -> Path | None:
    """Return the timeline file beside a SQLite database file, or None (another database, in memory)."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        return None
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        return None
    return Path(url.database + CLOCK_FILE_SUFFIX)


def read_timeline(path: Path) -> DemoTimeline | None:
    """Read a timeline file; None when there is none or it cannot be read (real time then)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        timeline = DemoTimeline(
            real=datetime.fromisoformat(data["real"]),
            simulated=datetime.fromisoformat(data["simulated"]),
            speed=float(data["speed"]),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring the demo's clock file %s (%s): using real time", path, type(exc).__name__)
        return None
    if timeline.real.tzinfo is None or timeline.simulated.tzinfo is None or not timeline.speed >= 0:
        log.warning("ignoring the demo's clock file %s (not a timeline): using real time", path)
        return None
    return timeline


def write_timeline(path: Path, timeline: DemoTimeline) -> None:
    """Write the timeline file atomically, so a command reading meanwhile sees the old or the new one."""
    data = {
        "real": timeline.real.astimezone(UTC).isoformat(),
        "simulated": timeline.simulated.astimezone(UTC).isoformat(),
        "speed": timeline.speed,
    }
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(data) + "\n", encoding="utf-8")
    os.replace(partial, path)


def clock_for_database(database_url: str, *, real_now: Callable[[], datetime] | None = None) -> Clock:
    """Return the clock a command on this database runs on: the demo's simulated time, else the real clock.

    Beside a running demo the command's clock runs at the demo's speed from the demo's "now"; beside a
    stopped one, at real speed from where it stopped.
    """
    path = demo_clock_path(database_url)
    timeline = read_timeline(path) if path is not None else None
    if timeline is None:
        return SystemClock()
    now = (real_now or (lambda: datetime.now(UTC)))()
    return ScaledClock(timeline.at(now), max(1.0, timeline.speed))
