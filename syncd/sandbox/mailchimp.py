"""A fake Mailchimp Marketing API (`/3.0`): audience members, Basic auth, 10 connections per key.

Faithful to what the reference records about Mailchimp; where the vendor is silent we choose:
- `since_timestamp_opt` and `before_timestamp_opt` are both exclusive ("opted in after" /
  "before" the given time), the stricter reading, so a client must widen them itself.
- members come in id order (the MD5 of the address), not by opt-in time; `count` defaults to 10
  and may not exceed 1000; `total_items` is the size of the filtered collection; `fields`
  trims the answer (`total_items`, `members.id`, `members.timestamp_opt`, ...).
- members imported without an opt-in time answer `timestamp_opt: ""`.
- any user name with the key as the Basic password is accepted; errors are problem+json
  `{type, title, status, detail, instance}` (401 "API Key Invalid", 404 "Resource Not Found",
  400 "Invalid Resource", 429 "Too Many Requests"); no rate-limit headers, ever.
- more than 10 requests of one key in flight at once are refused with 429; `throttle_next(n)`
  refuses the next `n` as if another app sharing the key had used the connections up.

Demo identities (`demo_events`): one audience, `DEMO_LIST_ID` ("a1b2c3d4e5"), fed by the signup
forms of alice (alice@acme.io), bob (bob@acme.io) and carol (carol@acme.io) whose readers join it;
the subject is the list id, so the audience is a team-level KPI, not a per-person one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import random
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from syncd.clock import Clock

__all__ = [
    "DEMO_LIST_ID",
    "MAILCHIMP_MAX_CONNECTIONS",
    "MailchimpFake",
    "MailchimpMember",
    "demo_events",
    "expected_counts",
]

DEMO_LIST_ID = "a1b2c3d4e5"
MAILCHIMP_MAX_CONNECTIONS = 10
DEFAULT_COUNT = 10
MAX_COUNT = 1000
METRIC = "new_subscribers"
_ERRORS_DOC = "https://mailchimp.com/developer/marketing/docs/errors/"
_STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class MailchimpMember:
    """One audience member: `timestamp_opt` None for an import without an opt-in time."""

    email: str
    status: str
    timestamp_opt: datetime | None
    list_id: str = DEMO_LIST_ID
    # When the member entered the audience; the fake hides members not yet there.
    added_at: datetime | None = None

    @property
    def id(self) -> str:
        return hashlib.md5(self.email.lower().encode(), usedforsecurity=False).hexdigest()

    @property
    def visible_from(self) -> datetime | None:
        return self.added_at or self.timestamp_opt


class _Invalid(Exception):
    """A parameter the fake refuses (answered 400)."""


def _problem(status: int, title: str, detail: str) -> web.Response:
    body = {
        "type": _ERRORS_DOC,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": str(uuid.uuid4()),
    }
    return web.json_response(body, status=status, content_type="application/problem+json")


class MailchimpFake:
    """The Mailchimp fake: build its aiohttp application with `app()`."""

    def __init__(self, events: Sequence[MailchimpMember], clock: Clock, api_key: str) -> None:
        self._members = sorted(events, key=lambda m: m.id)
        self._clock = clock
        self._api_key = api_key
        self._in_flight: Counter[str] = Counter()
        self._throttled = 0
        self.requests = 0

    def throttle_next(self, count: int) -> None:
        """Refuse the next `count` requests with 429, as when the key's connections are all in use."""
        self._throttled = count

    def app(self) -> web.Application:
        """Return the application serving `/3.0/...` and `/_sandbox/health`."""
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/3.0/ping", self._ping)
        app.router.add_get("/3.0/lists/{list_id}", self._list)
        app.router.add_get("/3.0/lists/{list_id}/members", self._list_members)
        app.router.add_get("/_sandbox/health", _health)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/3.0/"):
            return await handler(request)
        self.requests += 1
        key = _presented_key(request)
        if key is None or not hmac.compare_digest(key.encode(), self._api_key.encode()):
            return _problem(
                401,
                "API Key Invalid",
                "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
            )
        if self._throttled > 0 or self._in_flight[key] >= MAILCHIMP_MAX_CONNECTIONS:
            self._throttled = max(0, self._throttled - 1)
            return _problem(
                429,
                "Too Many Requests",
                f"You have exceeded the limit of {MAILCHIMP_MAX_CONNECTIONS} simultaneous connections.",
            )
        self._in_flight[key] += 1
        try:
            return await handler(request)
        except _Invalid as exc:
            return _problem(400, "Invalid Resource", str(exc))
        finally:
            self._in_flight[key] -= 1

    async def _ping(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"health_status": "Everything's Chimpy!"})

    async def _list(self, request: web.Request) -> web.StreamResponse:
        list_id = request.match_info["list_id"]
        if not any(m.list_id == list_id for m in self._members) and list_id != DEMO_LIST_ID:
            return _not_found()
        body: dict[str, object] = {
            "id": list_id,
            "name": "Acme newsletter",
            "stats": {"member_count": self._count(list_id)},
        }
        return web.json_response(_trim(body, request.query.get("fields")))

    async def _list_members(self, request: web.Request) -> web.StreamResponse:
        list_id = request.match_info["list_id"]
        if not any(m.list_id == list_id for m in self._members) and list_id != DEMO_LIST_ID:
            return _not_found()
        q = request.query
        status = q.get("status") or None
        if status is not None and status not in _STATUSES:
            raise _Invalid(f"status must be one of {', '.join(_STATUSES)}")
        since = _timestamp(q.get("since_timestamp_opt"), "since_timestamp_opt")
        before = _timestamp(q.get("before_timestamp_opt"), "before_timestamp_opt")
        count = _integer(q.get("count"), "count", DEFAULT_COUNT)
        offset = _integer(q.get("offset"), "offset", 0)
        if not 1 <= count <= MAX_COUNT:
            raise _Invalid(f"count must be between 1 and {MAX_COUNT}")
        if offset < 0:
            raise _Invalid("offset must be 0 or more")
        now = self._clock.now()
        matching = [
            m
            for m in self._members
            if m.list_id == list_id
            and (m.visible_from is None or m.visible_from <= now)
            and (status is None or m.status == status)
            and (since is None or (m.timestamp_opt is not None and m.timestamp_opt > since))
            and (before is None or (m.timestamp_opt is not None and m.timestamp_opt < before))
        ]
        body = {
            "members": [_member(m) for m in matching[offset : offset + count]],
            "list_id": list_id,
            "total_items": len(matching),
        }
        return web.json_response(_trim(body, q.get("fields")))

    def _count(self, list_id: str) -> int:
        now = self._clock.now()
        return sum(
            1
            for m in self._members
            if m.list_id == list_id and m.status == "subscribed" and (m.visible_from or now) <= now
        )


async def _health(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"})


def _not_found() -> web.Response:
    return _problem(404, "Resource Not Found", "The requested resource could not be found.")


def _presented_key(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(auth[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        _, sep, password = decoded.partition(":")
        return password if sep else None
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return None


def _timestamp(raw: str | None, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise _Invalid(f"{name} must be an ISO 8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _integer(raw: str | None, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise _Invalid(f"{name} must be an integer") from None


def _member(m: MailchimpMember) -> dict[str, object]:
    opt = "" if m.timestamp_opt is None else m.timestamp_opt.astimezone(UTC).isoformat(timespec="seconds")
    return {
        "id": m.id,
        "email_address": m.email,
        "status": m.status,
        "timestamp_opt": opt,
        "list_id": m.list_id,
    }


def _trim(body: dict[str, object], fields: str | None) -> dict[str, object]:
    """Keep only the `fields` asked for (`total_items,members.id`), as Mailchimp does."""
    if not fields:
        return body
    wanted = [f.strip() for f in fields.split(",") if f.strip()]
    trimmed: dict[str, object] = {}
    for key, value in body.items():
        inner = [w.split(".", 1)[1] for w in wanted if w.startswith(f"{key}.")]
        if key in wanted:
            trimmed[key] = value
        elif inner and isinstance(value, list):
            trimmed[key] = [{k: v for k, v in item.items() if k in inner} for item in value if isinstance(item, dict)]
    return trimmed


def demo_events(seed: int, first_day: date, last_day: date, zone: ZoneInfo) -> list[MailchimpMember]:
    """Return the demo audience's members for each local day: signups, a few gone, an import."""
    members: list[MailchimpMember] = []
    day = first_day
    while day <= last_day:
        rng = random.Random(f"mailchimp:{seed}:{day.isoformat()}")
        for n in range(rng.randint(2, 9)):
            at = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(seconds=rng.randint(0, 86_399))
            status = rng.choices(("subscribed", "unsubscribed", "cleaned", "pending"), (80, 10, 5, 5))[0]
            opt = None if status == "pending" else at
            members.append(MailchimpMember(f"reader{n}.{day:%Y%m%d}@example.com", status, opt, added_at=at))
        if rng.random() < 0.1:
            # An imported member without an opt-in time: never counted, never placed on a day.
            members.append(MailchimpMember(f"import.{day:%Y%m%d}@example.com", "subscribed", None, added_at=None))
        day += timedelta(days=1)
    return members


def expected_counts(
    events: Sequence[MailchimpMember], zone: ZoneInfo, start: datetime, end: datetime
) -> dict[tuple[str, str, date], float]:
    """Return the ground truth: subscribed members by the local day of `timestamp_opt` in `[start, end)`."""
    counts: Counter[tuple[str, str, date]] = Counter()
    for m in events:
        if m.status == "subscribed" and m.timestamp_opt is not None and start <= m.timestamp_opt < end:
            counts[(METRIC, m.list_id, m.timestamp_opt.astimezone(zone).date())] += 1
    return {key: float(value) for key, value in counts.items()}
