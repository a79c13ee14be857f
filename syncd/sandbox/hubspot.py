"""A fake HubSpot API: CRM email search, the emails list, form submissions, limits and errors.

Faithful to what the reference records about HubSpot; where the vendor is silent we choose
(marked **(unconfirmed)**):
- Bearer auth; 401 `{status: "error", message, correlationId, category: "INVALID_AUTHENTICATION"}`.
- `POST /crm/v3/objects/emails/search`: filter groups are ORed, filters inside a group ANDed;
  operators EQ, NEQ, LT, LTE, GT, GTE on `hs_timestamp` (epoch ms), `hs_email_direction` and
  `hubspot_owner_id`; `sorts` on `hs_timestamp` (default: by id); `limit` at most 200; `after`
  is an offset and a query cannot reach past 10,000 results (400). Properties come back as
  strings, `hs_timestamp` as ISO 8601 with milliseconds.
- `GET /form-integrations/v1/submissions/forms/{guid}`: newest first, `limit` at most 50
  (default 20), `after` an opaque cursor; an unknown form answers 404.
- Limits per token: search 4 per rolling second, other calls 100 per rolling 10 s. Over them:
  429 `{status: "error", message, errorType: "RATE_LIMIT", correlationId, policyName:
  "SECONDLY"|"TEN_SECONDLY_ROLLING", requestId}`. Non-search answers carry the
  `X-HubSpot-RateLimit-*` headers (search answers carry none **(unconfirmed)**).

Demo identities: HubSpot owners alice `1453000101`, bob `1453000102`, carol `1453000103`; the
forms `DEMO_FORMS` (newsletter and demo request).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import random
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from aiohttp import web

from syncd.clock import Clock

__all__ = [
    "DEMO_FORMS",
    "DEMO_OWNERS",
    "HUBSPOT_SEARCH_RATE",
    "HubspotEvent",
    "HubspotFake",
    "demo_events",
    "expected_counts",
]

HubspotKind = Literal["email", "form_submission"]
HUBSPOT_SEARCH_RATE = (4, 1.0)
HUBSPOT_GENERAL_RATE = (100, 10.0)
DEMO_OWNERS = {"alice": "1453000101", "bob": "1453000102", "carol": "1453000103"}
DEMO_FORMS = ("3f1c2a3b-5d6e-4f70-8a9b-0c1d2e3f4a5b", "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d")
MAX_SEARCH_LIMIT = 200
SEARCH_CAP = 10_000
MAX_FORM_LIMIT = 50
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class HubspotEvent:
    """An email engagement (`subject`: owner id, empty if none) or a form submission (`subject`: form)."""

    kind: HubspotKind
    subject: str
    at: datetime
    id: str
    direction: str = "EMAIL"


class _Failure(Exception):
    def __init__(self, status: int, message: str, category: str) -> None:
        super().__init__(message)
        self.status, self.message, self.category = status, message, category


def _ms(at: datetime) -> int:
    delta = at.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _iso(at: datetime) -> str:
    at = at.astimezone(UTC)
    return f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}Z"


class _Rolling:
    def __init__(self, clock: Clock, requests: int, seconds: float) -> None:
        self._clock, self.requests, self.seconds = clock, requests, seconds
        self._sent: dict[str, deque[float]] = {}

    def spend(self, key: str) -> int | None:
        """Count a request and return what remains, or None when the budget is spent."""
        now = self._clock.monotonic()
        sent = self._sent.setdefault(key, deque())
        while sent and sent[0] <= now - self.seconds:
            sent.popleft()
        if len(sent) >= self.requests:
            return None
        sent.append(now)
        return self.requests - len(sent)


class HubspotFake:
    """The HubSpot fake: build its aiohttp application with `app()`."""

    def __init__(self, events: Sequence[HubspotEvent], clock: Clock, api_key: str) -> None:
        self._emails = sorted((e for e in events if e.kind == "email"), key=lambda e: e.id)
        self._submissions = sorted((e for e in events if e.kind == "form_submission"), key=lambda e: e.at, reverse=True)
        self._forms = set(DEMO_FORMS) | {e.subject for e in self._submissions}
        self._clock = clock
        self._api_key = api_key
        self._search_rate = _Rolling(clock, *HUBSPOT_SEARCH_RATE)
        self._general_rate = _Rolling(clock, *HUBSPOT_GENERAL_RATE)

    def app(self) -> web.Application:
        """Return the application serving the CRM and forms paths."""
        app = web.Application(middlewares=[self._guard])
        app.router.add_post("/crm/v3/objects/emails/search", self._search)
        app.router.add_get("/crm/v3/objects/emails", self._list_emails)
        app.router.add_get("/form-integrations/v1/submissions/forms/{form_guid}", self._form_submissions)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        presented = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        is_search = request.path.endswith("/search")
        limiter = self._search_rate if is_search else self._general_rate
        remaining = limiter.spend(presented)
        headers = {} if is_search else self._headers(limiter, remaining)
        if remaining is None:
            body = {
                "status": "error",
                "message": "You have reached your secondly limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": str(uuid.uuid4()),
                "policyName": "SECONDLY" if is_search else "TEN_SECONDLY_ROLLING",
                "requestId": str(uuid.uuid4()),
            }
            return web.json_response(body, status=429, headers=headers)
        try:
            if not presented or not hmac.compare_digest(presented.encode(), self._api_key.encode()):
                raise _Failure(401, "Authentication credentials not found.", "INVALID_AUTHENTICATION")
            response = await handler(request)
        except _Failure as failure:
            body = {
                "status": "error",
                "message": failure.message,
                "correlationId": str(uuid.uuid4()),
                "category": failure.category,
            }
            response = web.json_response(body, status=failure.status)
        response.headers.update(headers)
        return response

    @staticmethod
    def _headers(limiter: _Rolling, remaining: int | None) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Daily": "250000",
            "X-HubSpot-RateLimit-Daily-Remaining": "249000",
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(limiter.seconds * 1000)),
            "X-HubSpot-RateLimit-Max": str(limiter.requests),
            "X-HubSpot-RateLimit-Remaining": str(remaining or 0),
        }

    def _served_emails(self) -> list[HubspotEvent]:
        now = self._clock.now()
        return [e for e in self._emails if e.at <= now]

    async def _search(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            raise _Failure(400, "Invalid input JSON", "VALIDATION_ERROR") from None
        if not isinstance(body, dict):
            raise _Failure(400, "Invalid input JSON", "VALIDATION_ERROR")
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or not 1 <= limit <= MAX_SEARCH_LIMIT:
            raise _Failure(400, f"limit must be between 1 and {MAX_SEARCH_LIMIT}", "VALIDATION_ERROR")
        after = _offset(body.get("after"))
        if after + limit > SEARCH_CAP:
            raise _Failure(400, f"Paging beyond {SEARCH_CAP} results is not supported", "VALIDATION_ERROR")
        groups = body.get("filterGroups") or []
        matching = [e for e in self._served_emails() if not groups or any(_matches(e, g) for g in groups)]
        for sort in reversed(body.get("sorts") or []):
            if isinstance(sort, dict) and sort.get("propertyName") == "hs_timestamp":
                matching.sort(key=lambda e: (e.at, e.id), reverse=sort.get("direction") == "DESCENDING")
        page = matching[after : after + limit]
        answer: dict[str, object] = {"total": len(matching), "results": [_email_record(e) for e in page]}
        if after + limit < len(matching) and after + limit < SEARCH_CAP:
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return web.json_response(answer)

    async def _list_emails(self, request: web.Request) -> web.StreamResponse:
        try:
            limit = int(request.query.get("limit", "10"))
        except ValueError:
            raise _Failure(400, "limit must be a number", "VALIDATION_ERROR") from None
        emails = self._served_emails()[: max(1, min(limit, 100))]
        return web.json_response({"results": [_email_record(e) for e in emails]})

    async def _form_submissions(self, request: web.Request) -> web.StreamResponse:
        guid = request.match_info["form_guid"]
        if guid not in self._forms:
            raise _Failure(404, f"Form {guid} not found", "OBJECT_NOT_FOUND")
        try:
            limit = int(request.query.get("limit", "20"))
        except ValueError:
            raise _Failure(400, "limit must be a number", "VALIDATION_ERROR") from None
        if not 1 <= limit <= MAX_FORM_LIMIT:
            raise _Failure(400, f"limit must be between 1 and {MAX_FORM_LIMIT}", "VALIDATION_ERROR")
        offset = _cursor_offset(request.query.get("after"))
        now = self._clock.now()
        items = [e for e in self._submissions if e.subject == guid and e.at <= now]
        page = items[offset : offset + limit]
        answer: dict[str, object] = {"results": [_submission_record(e) for e in page]}
        if offset + limit < len(items):
            cursor = base64.urlsafe_b64encode(json.dumps({"o": offset + limit}).encode()).decode()
            link = f"https://api.hubapi.com{request.path}?limit={limit}&after={cursor}"
            answer["paging"] = {"next": {"after": cursor, "link": link}}
        return web.json_response(answer)


def _matches(event: HubspotEvent, group: object) -> bool:
    filters = group.get("filters", []) if isinstance(group, dict) else []
    return all(_passes(event, f) for f in filters if isinstance(f, dict))


def _passes(event: HubspotEvent, condition: dict[str, object]) -> bool:
    name, operator, value = condition.get("propertyName"), condition.get("operator"), str(condition.get("value"))
    if name == "hs_timestamp":
        try:
            actual: int | str = _ms(event.at)
            wanted: int | str = int(value)
        except ValueError:
            raise _Failure(400, f"{value} is not a valid hs_timestamp", "VALIDATION_ERROR") from None
    elif name == "hs_email_direction":
        actual, wanted = event.direction, value
    elif name == "hubspot_owner_id":
        actual, wanted = event.subject, value
    else:
        raise _Failure(400, f"Unknown property {name}", "VALIDATION_ERROR")
    if operator == "EQ":
        return actual == wanted
    if operator == "NEQ":
        return actual != wanted
    if isinstance(actual, int) and isinstance(wanted, int):
        return {
            "LT": actual < wanted,
            "LTE": actual <= wanted,
            "GT": actual > wanted,
            "GTE": actual >= wanted,
        }.get(str(operator), False)
    raise _Failure(400, f"Operator {operator} is not supported for {name}", "VALIDATION_ERROR")


def _email_record(event: HubspotEvent) -> dict[str, object]:
    stamp = _iso(event.at)
    return {
        "id": event.id,
        "properties": {
            "hs_createdate": stamp,
            "hs_lastmodifieddate": stamp,
            "hs_object_id": event.id,
            "hs_timestamp": stamp,
            "hs_email_direction": event.direction,
            "hubspot_owner_id": event.subject or None,
        },
        "createdAt": stamp,
        "updatedAt": stamp,
        "archived": False,
    }


def _submission_record(event: HubspotEvent) -> dict[str, object]:
    return {
        "conversionId": event.id,
        "submittedAt": _ms(event.at),
        "values": [{"name": "email", "value": f"visitor.{event.id[:8]}@example.com"}],
        "pageUrl": "https://acme.io/newsletter",
    }


def _offset(raw: object) -> int:
    if raw is None:
        return 0
    try:
        offset = int(str(raw))
    except ValueError:
        raise _Failure(400, "after must be a number", "VALIDATION_ERROR") from None
    if offset < 0:
        raise _Failure(400, "after must not be negative", "VALIDATION_ERROR")
    return offset


def _cursor_offset(raw: str | None) -> int:
    if not raw:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(raw.encode()))["o"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise _Failure(400, "after is not a valid cursor", "VALIDATION_ERROR") from None
    return offset if isinstance(offset, int) and offset >= 0 else 0


# --- demo activity and ground truth ---------------------------------------------------------------

_SEND_RATES = {"alice": 9.0, "bob": 4.0, "carol": 6.0}


def demo_events(seed: int, first_day: date, last_day: date, zone: ZoneInfo) -> list[HubspotEvent]:
    """Draw logged emails (sent and received) per owner and submissions of the two demo forms."""
    events: list[HubspotEvent] = []
    day = first_day
    while day <= last_day:
        rng = random.Random(f"hubspot:{seed}:{day.isoformat()}")
        midnight = datetime.combine(day, time(0), tzinfo=zone)
        if day.weekday() < 5:
            for person, mean in _SEND_RATES.items():
                for _ in range(max(0, round(rng.gauss(mean, mean / 4)))):
                    at = midnight + timedelta(
                        hours=8, seconds=rng.randrange(10 * 3600), milliseconds=rng.randrange(1000)
                    )
                    direction = "EMAIL" if rng.random() < 0.8 else "INCOMING_EMAIL"
                    owner = DEMO_OWNERS[person] if rng.random() < 0.95 else ""
                    events.append(HubspotEvent("email", owner, at.astimezone(UTC), str(rng.getrandbits(40)), direction))
        for form, mean in zip(DEMO_FORMS, (6.0, 2.0), strict=True):
            for _ in range(max(0, round(rng.gauss(mean, mean / 3)))):
                at = midnight + timedelta(seconds=rng.randrange(86_400), milliseconds=rng.randrange(1000))
                events.append(
                    HubspotEvent("form_submission", form, at.astimezone(UTC), str(uuid.UUID(int=rng.getrandbits(128))))
                )
        day += timedelta(days=1)
    return sorted(events, key=lambda e: e.at)


def expected_counts(
    events: Sequence[HubspotEvent], zone: ZoneInfo, start: datetime, end: datetime
) -> dict[tuple[str, str, date], float]:
    """Count sent emails per owner (`unassigned` if none) and submissions per form in `[start, end)`."""
    counts: dict[tuple[str, str, date], float] = {}
    for event in events:
        if not start <= event.at < end:
            continue
        if event.kind == "email":
            if event.direction != "EMAIL":
                continue
            key = ("emails_sent", event.subject or "unassigned", event.at.astimezone(zone).date())
        else:
            key = ("form_submissions", event.subject, event.at.astimezone(zone).date())
        counts[key] = counts.get(key, 0.0) + 1.0
    return counts
