"""A fake X API v2 (`/2`): `dm_events` and `users/me`, bearer auth, 15-minute per-user limits.

Faithful to what the reference records about X; where the vendor is silent we choose:
- Each token belongs to one user; `dm_events` lists that user's events of the last 30 days,
  newest first: DMs **received as well as sent**, group `ParticipantsJoin`/`ParticipantsLeave`
  events too unless `event_types` narrows them. A DM between two team members is one event in
  each member's list (an `XDmEvent` per owner, same id).
- Only `id`, `event_type` and `text` come by default; `created_at`, `sender_id` and
  `dm_conversation_id` only when named in `dm_event.fields`. `created_at` has milliseconds.
- `max_results` is 1-100 (default 100); `pagination_token` is opaque; the last page has no
  `meta.next_token`, an empty one no `data`.
- Limits per user and endpoint in fixed 15-minute windows: `dm_events` 15, `users/me` 75
  **(unconfirmed figures)**. Every answer carries `x-rate-limit-limit`, `-remaining` and `-reset`
  (epoch seconds); over the limit, 429 with `{"errors":[{"code":88,…}]}`.
- Errors are problem JSON: 401 `{"title":"Unauthorized",…}`, 400 `invalid-request`.

The demo team (identities for `people.*.identities.x`): alice `1453000001`, bob `1453000002`,
carol `1453000003`, each with their own token; prospects have other numeric ids.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from aiohttp import web

from syncd.clock import Clock

__all__ = [
    "ALICE_X_ID",
    "BOB_X_ID",
    "CAROL_X_ID",
    "DEMO_X_USERS",
    "DM_EVENTS_LIMIT",
    "X_RATE_WINDOW_SECONDS",
    "XDmEvent",
    "XFake",
    "demo_events",
    "expected_counts",
    "format_x_time",
]

ALICE_X_ID, BOB_X_ID, CAROL_X_ID = "1453000001", "1453000002", "1453000003"
DEMO_X_USERS: Mapping[str, str] = {ALICE_X_ID: "alice_acme", BOB_X_ID: "bob_acme", CAROL_X_ID: "carol_acme"}
DM_EVENTS_LIMIT = 15
USERS_ME_LIMIT = 75
X_RATE_WINDOW_SECONDS = 15 * 60.0
HISTORY = timedelta(days=30)
MAX_RESULTS = 100
EVENT_TYPES = ("MessageCreate", "ParticipantsJoin", "ParticipantsLeave")
_OPTIONAL_FIELDS = ("created_at", "sender_id", "dm_conversation_id")

XEventType = Literal["MessageCreate", "ParticipantsJoin", "ParticipantsLeave"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_USER = web.RequestKey("x_user", str)


@dataclass(frozen=True)
class XDmEvent:
    """One DM event in `owner_id`'s event list (`sender_id` is the owner for DMs sent)."""

    id: str
    owner_id: str
    event_type: XEventType
    dm_conversation_id: str
    sender_id: str
    created_at: datetime
    text: str = ""


def format_x_time(at: datetime) -> str:
    """Format an instant as X does: `2026-03-07T10:30:00.000Z`."""
    at = at.astimezone(UTC)
    return f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}Z"


class _FixedWindows:
    """`limit` requests per (user, endpoint) in fixed windows opened by the first request."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}

    def spend(self, key: tuple[str, str], limit: int) -> tuple[bool, int, float]:
        """Count one request; return (allowed, remaining, seconds until the reset)."""
        now = self._clock.monotonic()
        opened, used = self._windows.get(key, (now, 0))
        if now >= opened + X_RATE_WINDOW_SECONDS:
            opened, used = now, 0
        reset_in = opened + X_RATE_WINDOW_SECONDS - now
        if used >= limit:
            self._windows[key] = (opened, used)
            return False, 0, reset_in
        self._windows[key] = (opened, used + 1)
        return True, limit - used - 1, reset_in


class _Invalid(Exception):
    """A parameter the fake refuses (answered 400 problem JSON)."""


def _problem(status: int, title: str, detail: str, kind: str) -> web.Response:
    body = {"title": title, "detail": detail, "type": kind, "status": status}
    return web.json_response(body, status=status)


class XFake:
    """The X fake: `api_key` is `user_id`'s token; `extra_tokens` maps more tokens to user ids."""

    def __init__(
        self,
        events: Sequence[XDmEvent],
        clock: Clock,
        api_key: str,
        *,
        user_id: str = ALICE_X_ID,
        extra_tokens: Mapping[str, str] | None = None,
    ) -> None:
        self._events = sorted(events, key=lambda e: (e.created_at, e.id), reverse=True)
        self._clock = clock
        self._tokens = {**(extra_tokens or {}), api_key: user_id}
        self._limits = _FixedWindows(clock)
        self.rate_limited = 0  # 429s served, for tests

    def app(self) -> web.Application:
        """Return the application serving `/2/...` and `/_sandbox/health`."""
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/2/dm_events", self._dm_events)
        app.router.add_get("/2/users/me", self._me)
        app.router.add_get("/_sandbox/health", _health)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/2/"):
            return await handler(request)
        user = self._user(request)
        if user is None:
            return _problem(401, "Unauthorized", "Unauthorized", "about:blank")
        limit = DM_EVENTS_LIMIT if request.path == "/2/dm_events" else USERS_ME_LIMIT
        allowed, remaining, reset_in = self._limits.spend((user, request.path), limit)
        reset_at = math.ceil(self._clock.now().timestamp() + reset_in)
        headers = {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(reset_at),
        }
        response: web.StreamResponse
        if not allowed:
            self.rate_limited += 1
            response = web.json_response({"errors": [{"code": 88, "message": "Rate limit exceeded"}]}, status=429)
        else:
            request[_USER] = user
            try:
                response = await handler(request)
            except _Invalid as exc:
                response = web.json_response(
                    {
                        "errors": [{"message": str(exc)}],
                        "title": "Invalid Request",
                        "detail": "One or more parameters to your request was invalid.",
                        "type": "https://api.x.com/2/problems/invalid-request",
                    },
                    status=400,
                )
        response.headers.update(headers)
        return response

    def _user(self, request: web.Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        if auth[:7].lower() != "bearer ":
            return None
        presented = auth[7:].strip().encode()
        for token, user in self._tokens.items():
            if hmac.compare_digest(presented, token.encode()):
                return user
        return None

    async def _me(self, request: web.Request) -> web.StreamResponse:
        user = request[_USER]
        username = DEMO_X_USERS.get(user, f"user{user}")
        return web.json_response({"data": {"id": user, "name": username.split("_")[0].title(), "username": username}})

    async def _dm_events(self, request: web.Request) -> web.StreamResponse:
        user = request[_USER]
        q = request.query
        max_results = _int(q.get("max_results"), "max_results", MAX_RESULTS)
        if not 1 <= max_results <= MAX_RESULTS:
            raise _Invalid(f"The `max_results` query parameter value [{max_results}] is not between 1 and 100")
        types = _event_types(q.get("event_types"))
        fields = {f for f in (q.get("dm_event.fields") or "").split(",") if f}
        unknown = fields - {"id", "event_type", "text", *_OPTIONAL_FIELDS, "attachments", "referenced_tweets"}
        if unknown:
            raise _Invalid(f"The `dm_event.fields` query parameter value [{sorted(unknown)[0]}] is not valid")
        now = self._clock.now()
        visible = [
            e
            for e in self._events
            if e.owner_id == user and now - HISTORY <= e.created_at <= now and e.event_type in types
        ]
        start = 0
        if q.get("pagination_token"):
            edge = _decode_token(q["pagination_token"])
            start = next((i + 1 for i, e in enumerate(visible) if e.id == edge), len(visible))
        page = visible[start : start + max_results]
        meta: dict[str, object] = {"result_count": len(page)}
        if page:
            meta["newest_id"], meta["oldest_id"] = page[0].id, page[-1].id
        if start + max_results < len(visible):
            meta["next_token"] = _encode_token(page[-1].id)
        body: dict[str, object] = {"meta": meta}
        if page:
            body["data"] = [_event(e, fields) for e in page]
        return web.json_response(body)


async def _health(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"})


def _int(raw: str | None, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise _Invalid(f"The `{name}` query parameter value [{raw}] is not a number") from None


def _event_types(raw: str | None) -> frozenset[str]:
    if not raw:
        return frozenset(EVENT_TYPES)
    asked = frozenset(raw.split(","))
    if not asked <= frozenset(EVENT_TYPES):
        raise _Invalid(f"The `event_types` query parameter value [{raw}] is not one of {list(EVENT_TYPES)}")
    return asked


def _encode_token(event_id: str) -> str:
    return base64.b32encode(f"dm:{event_id}".encode()).decode().rstrip("=").lower()


def _decode_token(token: str) -> str:
    try:
        padded = token.upper() + "=" * (-len(token) % 8)
        text = base64.b32decode(padded).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise _Invalid("The `pagination_token` query parameter value is not valid") from None
    if not text.startswith("dm:"):
        raise _Invalid("The `pagination_token` query parameter value is not valid")
    return text[3:]


def _event(e: XDmEvent, fields: set[str]) -> dict[str, object]:
    item: dict[str, object] = {"id": e.id, "event_type": e.event_type}
    if e.event_type == "MessageCreate":
        item["text"] = e.text
    if "created_at" in fields:
        item["created_at"] = format_x_time(e.created_at)
    if "sender_id" in fields:
        item["sender_id"] = e.sender_id
    if "dm_conversation_id" in fields:
        item["dm_conversation_id"] = e.dm_conversation_id
    return item


# --- the demo team's DMs -------------------------------------------------------------------------

# Recruiting DMs go out in office hours; replies from candidates come later, evenings included.
_SEND_HOURS = (0, 0, 0, 0, 0, 0, 0, 1, 3, 6, 7, 6, 4, 5, 6, 6, 5, 3, 2, 1, 1, 0, 0, 0)
_REPLY_HOURS = (1, 0, 0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 5, 6, 6, 5, 3, 2)
# DMs per business day: carol recruits on X, alice does some outreach, bob rarely.
_SENDS_PER_DAY: Mapping[str, float] = {CAROL_X_ID: 12.0, ALICE_X_ID: 5.0, BOB_X_ID: 1.0}
_REPLY_RATE = 0.35


def demo_events(seed: int, first_day: date, last_day: date, zone: ZoneInfo) -> list[XDmEvent]:
    """Draw the demo team's DM events for local days `first_day..last_day`, reproducibly per seed."""
    events: list[XDmEvent] = []
    day = first_day
    while day <= last_day:
        events.extend(_day_events(random.Random(f"{seed}:x:{day.isoformat()}"), day, zone))
        day += timedelta(days=1)
    return events


def _day_events(rng: random.Random, day: date, zone: ZoneInfo) -> list[XDmEvent]:
    out: list[XDmEvent] = []
    if day.weekday() >= 5:
        return out

    def instant(hours: Sequence[int]) -> datetime:
        hour = rng.choices(range(24), weights=hours)[0]
        local = datetime.combine(day, time(hour), tzinfo=zone)
        return (local + timedelta(seconds=rng.randrange(3600), milliseconds=rng.randrange(1000))).astimezone(UTC)

    def new_id() -> str:
        return str(1_800_000_000_000_000_000 + rng.getrandbits(56))

    for owner, mean in _SENDS_PER_DAY.items():
        for _ in range(max(0, round(rng.gauss(mean, mean * 0.3)))):
            prospect = str(9_000_000_000 + rng.randrange(10**9))
            conversation = f"{min(owner, prospect)}-{max(owner, prospect)}"
            sent = instant(_SEND_HOURS)
            out.append(XDmEvent(new_id(), owner, "MessageCreate", conversation, owner, sent, "Hi, quick question"))
            if rng.random() < _REPLY_RATE:
                # A reply is a DM the owner received: in their list, never counted as sent.
                replied = sent + timedelta(minutes=rng.randrange(5, 36 * 60))
                out.append(XDmEvent(new_id(), owner, "MessageCreate", conversation, prospect, replied, "Sure!"))
    # Team members DM each other: the one event sits in both members' lists.
    if rng.random() < 0.5:
        sender, receiver = rng.sample(sorted(_SENDS_PER_DAY), 2)
        conversation = f"{min(sender, receiver)}-{max(sender, receiver)}"
        at, event_id = instant(_SEND_HOURS), new_id()
        for owner in (sender, receiver):
            out.append(XDmEvent(event_id, owner, "MessageCreate", conversation, sender, at, "Lunch?"))
    # Someone adds carol to a group: an event in her list that is no message.
    if rng.random() < 0.2:
        out.append(
            XDmEvent(new_id(), CAROL_X_ID, "ParticipantsJoin", "1582838223403245568", CAROL_X_ID, instant(_SEND_HOURS))
        )
    return out


def expected_counts(
    events: Sequence[XDmEvent], zone: ZoneInfo, start: datetime, end: datetime
) -> dict[tuple[str, str, date], float]:
    """Count DMs sent (`MessageCreate` by the list's owner) in `[start, end)` per sender and local day.

    X serves only the last 30 days: keep `start` within 30 days of the fake's "now".
    """
    counts: dict[tuple[str, str, date], float] = {}
    for e in events:
        if e.event_type == "MessageCreate" and e.sender_id == e.owner_id and start <= e.created_at < end:
            key = ("dms_sent", e.sender_id, e.created_at.astimezone(zone).date())
            counts[key] = counts.get(key, 0.0) + 1.0
    return counts
