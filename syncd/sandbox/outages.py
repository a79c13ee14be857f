"""A fake vendor that fails now and then: seeded outages on the sandbox's clock.

Real vendors go down for a while and come back. In the demo one fake (the call log) answers
503 for a stretch of simulated time every day, so the status page and the metrics show a source
down (not a shortfall) and recovering. The windows are drawn from `(seed, local day)` alone, like
the activity, so two runs with one seed fail at the same simulated times.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.typedefs import Middleware

from syncd.clock import Clock

__all__ = ["Outages", "outage_middleware"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Outages:
    """Each local day, one outage of `hours` starting at a seeded hour between `earliest` and `latest`.

    Office hours by default: that is when the daemon syncs most often and someone is looking.
    """

    seed: int
    zone: ZoneInfo
    hours: float = 2.0
    earliest: int = 8
    latest: int = 16

    def window(self, day: date) -> tuple[datetime, datetime]:
        """Return the outage of local `day` as [start, end)."""
        rng = random.Random(f"{self.seed}:outage:{day.isoformat()}")
        minute = rng.randrange(self.earliest * 60, self.latest * 60 + 1)
        start = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.zone)
        return start, start + timedelta(hours=self.hours)

    def down_at(self, instant: datetime) -> bool:
        """Return True when the vendor is down at `instant`."""
        day = instant.astimezone(self.zone).date()
        # An outage late in the evening may run past midnight into the next day.
        for candidate in (day - timedelta(days=1), day):
            start, end = self.window(candidate)
            if start <= instant < end:
                return True
        return False


def outage_middleware(outages: Outages, clock: Clock) -> Middleware:
    """Return a middleware answering 503 to every API call while `outages` says the vendor is down."""

    @web.middleware
    async def down(request: web.Request, handler: Handler) -> web.StreamResponse:
        # The sandbox's own probe stays up: the process is alive, the "vendor" is not.
        if request.path.startswith("/_sandbox/") or not outages.down_at(clock.now()):
            return await handler(request)
        return web.json_response(
            {"error": "service_unavailable", "message": "The service is temporarily unavailable."},
            status=503,
            headers={"Retry-After": "60"},
        )

    return down
