"""A fake GA4 Data API (`/v1beta`): runReport by date for sessions and totalUsers, Bearer auth, token quota.

Faithful to what the reference records about the GA4 Data API; where the vendor is silent we choose:
- `POST /v1beta/properties/{id}:runReport` reads `dateRanges` (inclusive `YYYY-MM-DD`, `today`,
  `yesterday` or `NdaysAgo`, all in the property's time zone), `dimensions` (only `date`),
  `metrics` (`sessions`, `totalUsers`), `limit` (default 10,000, at most 250,000) and `offset`.
- a `date` row holds that property-zone day's sessions and distinct users; values are strings,
  rows come in no promised order (here: most sessions first), and `rows` and `rowCount` are left
  out when there is no data. `metadata.timeZone` is the property's zone.
- quota: each request costs 1 token plus 1 per 100 rows scanned against `tokens_per_hour`
  (40,000 for a standard property) in a rolling hour; when it runs out every request gets
  429 `RESOURCE_EXHAUSTED`. `returnPropertyQuota: true` adds `propertyQuota`.
- errors are `{"error": {"code", "message", "status"}}`: 401 `UNAUTHENTICATED`, 403
  `PERMISSION_DENIED` for another property, 400 `INVALID_ARGUMENT` for a bad body.

Demo identities: the team's site is property `123456789`, the subject of both metrics; it counts
readers, not people, so alice/bob/carol own it as a team goal rather than per person.
"""

from __future__ import annotations

import hmac
import random
import re
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from syncd.clock import Clock

__all__ = [
    "DEMO_PROPERTY_ID",
    "DEMO_PROPERTY_ZONE",
    "TOKENS_PER_HOUR",
    "Ga4Fake",
    "Ga4Session",
    "demo_events",
    "expected_counts",
]

DEMO_PROPERTY_ID = "123456789"
DEMO_PROPERTY_ZONE = ZoneInfo("Europe/London")  # the demo configuration's timezone
TOKENS_PER_HOUR = 40_000
DEFAULT_LIMIT, MAX_LIMIT = 10_000, 250_000
_METRICS = ("sessions", "totalUsers")
_DAYS_AGO = re.compile(r"^(\d+)daysAgo$")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Ga4Session:
    """One session on `property_id`, started at `started_at` by `user_id`."""

    property_id: str
    started_at: datetime
    user_id: str


def _error(code: int, status: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, "status": status}}, status=code)


class _Invalid(Exception):
    """A request body the fake refuses (400 INVALID_ARGUMENT)."""


class Ga4Fake:
    """The GA4 fake: build its aiohttp application with `app()`."""

    def __init__(
        self,
        events: Sequence[Ga4Session],
        clock: Clock,
        api_key: str,
        property_id: str = DEMO_PROPERTY_ID,
        property_zone: ZoneInfo = DEMO_PROPERTY_ZONE,
        tokens_per_hour: int = TOKENS_PER_HOUR,
    ) -> None:
        self._events, self._clock, self._api_key = list(events), clock, api_key
        self._property_id, self._zone, self._tokens_per_hour = property_id, property_zone, tokens_per_hour
        self._spent: deque[tuple[float, int]] = deque()

    def app(self) -> web.Application:
        """Return the application serving `/v1beta/properties/{id}:runReport`."""
        app = web.Application()
        app.router.add_post(r"/v1beta/properties/{property_id:\d+}:runReport", self._run_report)
        return app

    async def _run_report(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not token or not hmac.compare_digest(token.encode(), self._api_key.encode()):
            return _error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            )
        if request.match_info["property_id"] != self._property_id:
            return _error(403, "PERMISSION_DENIED", "User does not have sufficient permissions for this property.")
        if self._tokens_left() <= 0:
            return _error(429, "RESOURCE_EXHAUSTED", "Exhausted property tokens per hour for this property.")
        try:
            body = await request.json()
            report = self._report(body)
        except ValueError:
            return _error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        except _Invalid as e:
            return _error(400, "INVALID_ARGUMENT", str(e))
        return web.json_response(report)

    def _tokens_left(self) -> int:
        now = self._clock.monotonic()
        while self._spent and self._spent[0][0] <= now - 3600.0:
            self._spent.popleft()
        return self._tokens_per_hour - sum(tokens for _, tokens in self._spent)

    def _report(self, body: object) -> dict[str, object]:
        if not isinstance(body, dict):
            raise _Invalid("The request body must be an object.")
        first, last = self._date_range(body.get("dateRanges"))
        dimensions = [_name(d) for d in body.get("dimensions") or []]
        if dimensions not in ([], ["date"]):
            raise _Invalid("Only the date dimension is served by this sandbox.")
        metrics = [_name(m) for m in body.get("metrics") or []]
        if not metrics or any(m not in _METRICS for m in metrics):
            raise _Invalid(f"metrics must be among {', '.join(_METRICS)}")
        limit, offset = _int(body.get("limit", DEFAULT_LIMIT), "limit"), _int(body.get("offset", 0), "offset")
        if not 1 <= limit <= MAX_LIMIT or offset < 0:
            raise _Invalid(f"limit must be 1..{MAX_LIMIT} and offset 0 or more")
        now = self._clock.now()
        per_day: dict[date, list[Ga4Session]] = {}
        for e in self._events:
            day = e.started_at.astimezone(self._zone).date()
            if e.property_id == self._property_id and e.started_at <= now and first <= day <= last:
                per_day.setdefault(day if dimensions else first, []).append(e)
        rows = [
            {
                "dimensionValues": [{"value": f"{day:%Y%m%d}"}] if dimensions else [],
                "metricValues": [{"value": str(_metric(m, sessions))} for m in metrics],
            }
            for day, sessions in sorted(per_day.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        ]
        self._spent.append((self._clock.monotonic(), 1 + sum(len(s) for s in per_day.values()) // 100))
        answer: dict[str, object] = {
            "dimensionHeaders": [{"name": d} for d in dimensions],
            "metricHeaders": [{"name": m, "type": "TYPE_INTEGER"} for m in metrics],
            "metadata": {"currencyCode": "USD", "timeZone": self._zone.key},
            "kind": "analyticsData#runReport",
        }
        if rows:
            answer["rows"] = rows[offset : offset + limit]
            answer["rowCount"] = len(rows)
        if body.get("returnPropertyQuota"):
            left = self._tokens_left()
            answer["propertyQuota"] = {"tokensPerHour": {"consumed": self._tokens_per_hour - left, "remaining": left}}
        return answer

    def _date_range(self, ranges: object) -> tuple[date, date]:
        if not isinstance(ranges, list) or len(ranges) != 1 or not isinstance(ranges[0], dict):
            raise _Invalid("Exactly one dateRange is served by this sandbox.")
        today = self._clock.now().astimezone(self._zone).date()
        first = _day(ranges[0].get("startDate"), today)
        last = _day(ranges[0].get("endDate"), today)
        if last < first:
            raise _Invalid("endDate must not be before startDate")
        return first, last


def _name(item: object) -> str:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise _Invalid("dimensions and metrics are objects with a name")
    return str(item["name"])


def _int(value: object, name: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise _Invalid(f"{name} must be an integer") from None


def _day(value: object, today: date) -> date:
    if value == "today":
        return today
    if value == "yesterday":
        return today - timedelta(days=1)
    text = str(value)
    match = _DAYS_AGO.match(text)
    if match:
        return today - timedelta(days=int(match.group(1)))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _Invalid(f"Invalid date: {text}") from None


def _metric(name: str, sessions: list[Ga4Session]) -> int:
    return len(sessions) if name == "sessions" else len({s.user_id for s in sessions})


def demo_events(seed: int, first_day: date, last_day: date, zone: ZoneInfo) -> list[Ga4Session]:
    """Return the demo site's sessions: more on weekdays, returning readers drawn from a small pool."""
    events: list[Ga4Session] = []
    day = first_day
    while day <= last_day:
        rng = random.Random(f"ga4:{seed}:{day.isoformat()}")
        count = rng.randint(40, 90) if day.weekday() < 5 else rng.randint(15, 35)
        for _ in range(count):
            at = datetime.combine(day, time(rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)), zone)
            events.append(Ga4Session(DEMO_PROPERTY_ID, at, f"reader{rng.randint(1, 120)}"))
        day += timedelta(days=1)
    return events


def expected_counts(
    events: Sequence[Ga4Session], zone: ZoneInfo, start: datetime, end: datetime
) -> dict[tuple[str, str, date], float]:
    """Return the ground truth per (sessions|total_users, property id, local day), `zone` the property's."""
    per_day: dict[tuple[str, date], list[Ga4Session]] = {}
    for e in events:
        if start <= e.started_at < end:
            per_day.setdefault((e.property_id, e.started_at.astimezone(zone).date()), []).append(e)
    counts: dict[tuple[str, str, date], float] = {}
    for (prop, day), sessions in per_day.items():
        counts[("sessions", prop, day)] = float(len(sessions))
        counts[("total_users", prop, day)] = float(len({s.user_id for s in sessions}))
    return counts
