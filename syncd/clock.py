"""The clock syncd reads time from, injected everywhere so tests never sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = [
    "MAX_SPEED",
    "PERIODIC_FLOOR_SECONDS",
    "Clock",
    "RealWaits",
    "ScaledClock",
    "SystemClock",
    "duration_timer",
    "sleep_periodic",
]

# The demo's fastest: a simulated day per real minute; faster, the fakes' 62 days ahead run out within the hour.
MAX_SPEED = 1440.0
# The shortest real wait between two rounds of a periodic loop on a simulated clock. Divided by the
# speed, the daemon's 15 s evaluation tick was 0.25 real s at 60x and 10 ms at 1440x: the demo spent
# a fifth to two thirds of a core re-evaluating figures that had moved by seconds. One real second
# still moves the page every second, by a simulated minute at 60x.
PERIODIC_FLOOR_SECONDS = 1.0


class Clock(Protocol):
    """Where the current instant comes from, and how to wait."""

    def now(self) -> datetime:
        """Return the current instant as an aware datetime."""
        ...

    def monotonic(self) -> float:
        """Return seconds from an arbitrary origin that never go backwards."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds`."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock:
    """A simulated clock running `speed` times faster than real time, from the instant `start`.

    Everything on it is simulated: `now()`, `monotonic()` (simulated seconds since `start`) and
    `sleep()` (a simulated wait, `seconds / speed` of real time). A daemon on this clock keeps its
    intervals, retries and rate limits in simulated time, so at speed 60 a source with a 5m
    interval syncs every 5 real seconds and finds 5 simulated minutes of new activity each time.
    Two things stay real: a periodic loop's rounds (`sleep_periodic`, floored at PERIODIC_FLOOR_SECONDS
    real seconds) and durations published as metrics (`real_monotonic`, see `duration_timer`).
    Speed 1 is real time. The real sources are injectable so tests never sleep.
    """

    def __init__(
        self,
        start: datetime,
        speed: float,
        *,
        real_monotonic: Callable[[], float] = time.monotonic,
        real_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be an aware datetime")
        if not speed >= 1:
            raise ValueError("speed must be at least 1 (1 is real time)")
        self.start = start
        self.speed = float(speed)
        self._real_monotonic = real_monotonic
        self._real_sleep = real_sleep
        self._origin = real_monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.monotonic())

    def monotonic(self) -> float:
        return (self._real_monotonic() - self._origin) * self.speed

    def real_monotonic(self) -> float:
        """Return real seconds from an arbitrary origin: for durations, not for simulated waits."""
        return self._real_monotonic()

    async def sleep(self, seconds: float) -> None:
        await self._real_sleep(max(0.0, seconds) / self.speed)

    async def sleep_periodic(self, seconds: float) -> None:
        """Wait between rounds of a periodic loop: `seconds` simulated, but at least min(seconds, floor) real.

        Never longer than the same wait at real time, so a short pause meant for other processes
        (retention's 0.25 s between batches, for SQLite's busy handler) stays its real length.
        """
        seconds = max(0.0, seconds)
        await self._real_sleep(max(seconds / self.speed, min(seconds, PERIODIC_FLOOR_SECONDS)))


class RealWaits:
    """Another clock's `now()`, with real seconds for waits and durations.

    For a command people watch beside the demo (`syncd backfill`): its windows must end at the
    demo's simulated now, but its countdowns, per-source times and summary must read in the seconds
    the person waits, not in simulated ones (60x longer at the default speed). Waiting in real time
    against the sandbox's simulated rate-limit windows only ever waits longer than needed.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        real_monotonic: Callable[[], float] = time.monotonic,
        real_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self._real_monotonic = real_monotonic
        self._real_sleep = real_sleep

    def now(self) -> datetime:
        return self._clock.now()

    def monotonic(self) -> float:
        return self._real_monotonic()

    async def sleep(self, seconds: float) -> None:
        await self._real_sleep(max(0.0, seconds))


async def sleep_periodic(clock: Clock, seconds: float) -> None:
    """Wait between two rounds of a periodic loop (the evaluation tick, retention, the idle backfill).

    On a simulated clock the wait has a real-time floor (`ScaledClock.sleep_periodic`); on any other
    it is the clock's own `sleep`. Not for a source's sync interval nor a lease's renewal: the demo's
    schedule and the leases' expiry are simulated time and must stay so.
    """
    if isinstance(clock, ScaledClock):
        await clock.sleep_periodic(seconds)
    else:
        await clock.sleep(seconds)


def duration_timer(clock: Clock) -> Callable[[], float]:
    """Return the monotonic that durations published as metrics are measured on.

    Real seconds on a simulated clock (a 0.2 s call at 60x is 0.2 s, not 12), the clock's own
    `monotonic` otherwise, so a test's fake clock still gives exact durations.
    """
    return clock.real_monotonic if isinstance(clock, ScaledClock) else clock.monotonic
