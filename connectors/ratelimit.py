"""Rate limits: a proactive limiter on the injected clock, and the vendors' wait headers parsed.

Vendors say "wait" three ways: `Retry-After` as seconds or an HTTP date (RFC 9110), a reset
instant as epoch seconds (X's `x-rate-limit-reset`), or a reset instant as a JavaScript
`Date.toString()` (lemlist's `X-RateLimit-Reset`, e.g.
`Tue Feb 16 2021 09:02:42 GMT+0100 (Central European Standard Time)`).
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

from syncd.clock import Clock

__all__ = ["RateLimit", "SlidingWindowLimiter", "parse_reset", "parse_retry_after"]

# A numeric reset above this is an epoch instant (2001-09-09 onwards), below it a delay in seconds.
_EPOCH_THRESHOLD = 1_000_000_000
# `Date.toString()` in JavaScript: the zone's name in parentheses is for people and is ignored.
_JS_DATE = re.compile(r"^\w{3} (\w{3} \d{1,2} \d{4} \d{2}:\d{2}:\d{2}) GMT([+-]\d{4})")


@dataclass(frozen=True)
class RateLimit:
    """At most `requests` requests in any `per_seconds` seconds."""

    requests: int
    per_seconds: float

    def __post_init__(self) -> None:
        if self.requests < 1 or self.per_seconds <= 0:
            raise ValueError(f"invalid rate limit {self.requests} per {self.per_seconds}s")


class SlidingWindowLimiter:
    """Delay each request until fewer than `limit.requests` were sent in the last `limit.per_seconds`."""

    def __init__(self, limit: RateLimit, clock: Clock, on_wait: Callable[[float], None] | None = None) -> None:
        self._limit = limit
        self._clock = clock
        # Told each delay before it is slept, so a caller can show that it is waiting, not stuck.
        self._on_wait = on_wait
        self._sent: deque[float] = deque()
        # Concurrent callers must queue, or several would see the same free slot.
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait until a request may be sent, then count it as sent."""
        async with self._lock:
            now = self._clock.monotonic()
            self._forget_before(now - self._limit.per_seconds)
            if len(self._sent) >= self._limit.requests:
                delay = self._sent[0] + self._limit.per_seconds - now
                if self._on_wait is not None:
                    self._on_wait(delay)
                await self._clock.sleep(delay)
                now = self._clock.monotonic()
                self._forget_before(now - self._limit.per_seconds)
            self._sent.append(now)

    def _forget_before(self, cutoff: float) -> None:
        while self._sent and self._sent[0] <= cutoff:
            self._sent.popleft()


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Return the seconds a `Retry-After` value asks for (delay or HTTP date), or None if unreadable."""
    if value is None:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    instant = _parse_date(text)
    return None if instant is None else max(0.0, (instant - now).total_seconds())


def parse_reset(value: str | None, now: datetime) -> float | None:
    """Return the seconds until a vendor's rate-limit reset header (epoch, delay or date), or None."""
    if value is None:
        return None
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        instant = _parse_date(text)
        return None if instant is None else max(0.0, (instant - now).total_seconds())
    if number >= _EPOCH_THRESHOLD:
        return max(0.0, number - now.timestamp())
    return max(0.0, number)


def _parse_date(text: str) -> datetime | None:
    """Parse an HTTP date, a JavaScript `Date.toString()` or ISO 8601 with an offset; None otherwise."""
    match = _JS_DATE.match(text)
    if match:
        return datetime.strptime(f"{match.group(1)} {match.group(2)}", "%b %d %Y %H:%M:%S %z")
    try:
        instant = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        instant = None
    if instant is None:
        try:
            instant = datetime.fromisoformat(text)
        except ValueError:
            return None
    # A date without a zone cannot be placed in time; treating it as UTC or local would guess.
    return instant if instant.tzinfo is not None else None
