"""A fake Slack Web API (`/api`): `conversations.history` and `auth.test`, errors as `ok: false` on 200.

Faithful to what the reference records about Slack; where the vendor is silent we choose:
- Auth by `Authorization: Bearer <token>` (or a `token` parameter); a missing token answers
  HTTP 200 `{"ok": false, "error": "not_authed"}`, a wrong one `invalid_auth`.
- History is newest first; `oldest` (default 0) and `latest` (default now) are exclusive unless
  `inclusive` is `true`/`1`; `limit` defaults to 100 (15 in `non_marketplace` mode) and is capped
  at 999 (15). The cursor is opaque; the last page has `"next_cursor": ""`. An unknown
  channel is `channel_not_found`, a bad cursor `invalid_cursor`.
- Rate limits per method in a rolling minute: conversations.history 50 (Tier 3) or 1 in
  `non_marketplace` mode, auth.test 100; over it, HTTP 429 with `Retry-After` (whole seconds)
  and `{"ok": false, "error": "ratelimited"}`.
- Messages carry `type`, `user`, `text`, `ts` and, for joins and bot posts, a `subtype`.

The demo team (identities for `people.*.identities.slack`): alice `U07ALICE01`, bob `U07BOB0002`,
carol `U07CAROL03`; channels `C07GROWTH1` (#growth), `C07RECRUIT` (#recruiting), `C07GENERAL`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import random
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from aiohttp import web

from syncd.clock import Clock

__all__ = [
    "ALICE_SLACK_ID",
    "BOB_SLACK_ID",
    "CAROL_SLACK_ID",
    "DEMO_SLACK_CHANNELS",
    "SlackFake",
    "SlackMessage",
    "demo_events",
    "expected_counts",
    "slack_ts",
]

ALICE_SLACK_ID, BOB_SLACK_ID, CAROL_SLACK_ID = "U07ALICE01", "U07BOB0002", "U07CAROL03"
DEMO_SLACK_CHANNELS: Mapping[str, str] = {"C07GROWTH1": "growth", "C07RECRUIT": "recruiting", "C07GENERAL": "general"}
TIER3_PER_MINUTE = 50
NON_MARKETPLACE_PER_MINUTE = 1
AUTH_TEST_PER_MINUTE = 100
COUNTED_SUBTYPES = frozenset({"thread_broadcast", "file_share", "me_message"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_PARAMS = web.RequestKey("slack_params", dict[str, str])


@dataclass(frozen=True)
class SlackMessage:
    """One message in a channel; `ts` is derived from `posted_at` (microseconds, unique per channel)."""

    channel: str
    posted_at: datetime
    user: str | None
    text: str = ""
    subtype: str | None = None
    bot_id: str | None = None

    @property
    def ts(self) -> str:
        return slack_ts(self.posted_at)


def slack_ts(at: datetime) -> str:
    """Format an instant as a Slack `ts`: Unix seconds with six decimals."""
    seconds, micros = divmod((at - _EPOCH) // timedelta(microseconds=1), 1_000_000)
    return f"{seconds}.{micros:06d}"


def _ts_value(raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise _SlackError("invalid_arguments") from None
    if not value.is_finite():
        raise _SlackError("invalid_arguments")
    return value


class _SlackError(Exception):
    """An `ok: false` answer with this error code."""


class _RollingLimiter:
    """At most `limit` requests per key in any 60 s; says how long until a slot frees."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._sent: dict[str, deque[float]] = {}

    def spend(self, key: str, limit: int) -> float | None:
        """Count one request and return None, or return the seconds to wait if over the limit."""
        now = self._clock.monotonic()
        sent = self._sent.setdefault(key, deque())
        while sent and sent[0] <= now - 60.0:
            sent.popleft()
        if len(sent) >= limit:
            return sent[0] + 60.0 - now
        sent.append(now)
        return None


def _not_ok(error: str) -> web.Response:
    return web.json_response({"ok": False, "error": error})


class SlackFake:
    """The Slack fake; `non_marketplace=True` applies the 1-per-minute, 15-per-page limits."""

    def __init__(
        self, events: Sequence[SlackMessage], clock: Clock, api_key: str, *, non_marketplace: bool = False
    ) -> None:
        self._clock = clock
        self._api_key = api_key
        self._channels: dict[str, list[SlackMessage]] = {c: [] for c in DEMO_SLACK_CHANNELS}
        for m in events:
            self._channels.setdefault(m.channel, []).append(m)
        for messages in self._channels.values():
            messages.sort(key=lambda m: m.posted_at, reverse=True)
        self._history_limit = NON_MARKETPLACE_PER_MINUTE if non_marketplace else TIER3_PER_MINUTE
        self._max_page = 15 if non_marketplace else 999
        self._default_page = 15 if non_marketplace else 100
        self._limiter = _RollingLimiter(clock)
        self.rate_limited = 0  # 429s served, for tests

    def app(self) -> web.Application:
        """Return the application serving `/api/<method>` and `/_sandbox/health`."""
        app = web.Application(middlewares=[self._guard])
        for method, handler in (("conversations.history", self._history), ("auth.test", self._auth_test)):
            app.router.add_get(f"/api/{method}", handler)
            app.router.add_post(f"/api/{method}", handler)
        app.router.add_get("/_sandbox/health", _health)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        params: dict[str, str] = dict(request.query)
        if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
            params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else params.get("token", "")
        if not token:
            return _not_ok("not_authed")
        if not hmac.compare_digest(token.encode(), self._api_key.encode()):
            return _not_ok("invalid_auth")
        method = request.path.removeprefix("/api/")
        limit = self._history_limit if method == "conversations.history" else AUTH_TEST_PER_MINUTE
        wait = self._limiter.spend(method, limit)
        if wait is not None:
            self.rate_limited += 1
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        request[_PARAMS] = params
        try:
            return await handler(request)
        except _SlackError as exc:
            return _not_ok(str(exc))

    async def _auth_test(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {
                "ok": True,
                "url": "https://acme-demo.slack.com/",
                "team": "Acme",
                "user": "syncd",
                "team_id": "T07ACME001",
                "user_id": "U07SYNCD01",
                "bot_id": "B07SYNCD01",
            }
        )

    async def _history(self, request: web.Request) -> web.StreamResponse:
        params = request[_PARAMS]
        channel = params.get("channel", "")
        if channel not in self._channels:
            raise _SlackError("channel_not_found")
        now = self._clock.now()
        oldest = _ts_value(params.get("oldest") or "0")
        latest = _ts_value(params["latest"]) if params.get("latest") else _ts_value(slack_ts(now))
        inclusive = params.get("inclusive", "").lower() in ("true", "1")
        limit = self._page_size(params.get("limit"))
        matching = [
            m
            for m in self._channels[channel]
            if m.posted_at <= now and _inside(_ts_value(m.ts), oldest, latest, inclusive=inclusive)
        ]
        start = 0
        if params.get("cursor"):
            edge = _decode_cursor(params["cursor"])
            start = next((i for i, m in enumerate(matching) if _ts_value(m.ts) < edge), len(matching))
        page = matching[start : start + limit]
        has_more = start + limit < len(matching)
        return web.json_response(
            {
                "ok": True,
                "messages": [_message(m) for m in page],
                "has_more": has_more,
                "pin_count": 0,
                "channel_actions_ts": None,
                "channel_actions_count": 0,
                "response_metadata": {"next_cursor": _encode_cursor(page[-1].ts) if has_more else ""},
            }
        )

    def _page_size(self, raw: str | None) -> int:
        if not raw:
            return self._default_page
        try:
            asked = int(raw)
        except ValueError:
            raise _SlackError("invalid_limit") from None
        # Slack caps a large limit rather than refusing it.
        return max(1, min(asked, self._max_page))


async def _health(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"})


def _inside(ts: Decimal, oldest: Decimal, latest: Decimal, *, inclusive: bool) -> bool:
    if inclusive:
        return oldest <= ts <= latest
    return oldest < ts < latest


def _encode_cursor(ts: str) -> str:
    # Slack's own cursors read like this one: base64 of `next_ts:<ts>`.
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


def _decode_cursor(cursor: str) -> Decimal:
    try:
        text = base64.b64decode(cursor, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise _SlackError("invalid_cursor") from None
    if not text.startswith("next_ts:"):
        raise _SlackError("invalid_cursor")
    try:
        return _ts_value(text.removeprefix("next_ts:"))
    except _SlackError:
        raise _SlackError("invalid_cursor") from None


def _message(m: SlackMessage) -> dict[str, object]:
    item: dict[str, object] = {"type": "message", "text": m.text, "ts": m.ts}
    if m.user is not None:
        item["user"] = m.user
    if m.subtype is not None:
        item["subtype"] = m.subtype
    if m.bot_id is not None:
        item["bot_id"] = m.bot_id
    return item


# --- the demo team's messages --------------------------------------------------------------------

_HOURS = (0, 0, 0, 0, 0, 0, 0, 1, 3, 6, 8, 7, 4, 5, 7, 7, 6, 4, 2, 1, 1, 0, 0, 0)
# (user, channel) -> messages per business day
_RATES: Mapping[tuple[str, str], float] = {
    (ALICE_SLACK_ID, "C07GROWTH1"): 9.0,
    (ALICE_SLACK_ID, "C07GENERAL"): 2.0,
    (BOB_SLACK_ID, "C07GROWTH1"): 5.0,
    (BOB_SLACK_ID, "C07GENERAL"): 3.0,
    (CAROL_SLACK_ID, "C07RECRUIT"): 11.0,
    (CAROL_SLACK_ID, "C07GENERAL"): 1.0,
}


def demo_events(seed: int, first_day: date, last_day: date, zone: ZoneInfo) -> list[SlackMessage]:
    """Draw the demo team's messages for local days `first_day..last_day`, reproducibly per seed."""
    out: list[SlackMessage] = []
    day = first_day
    while day <= last_day:
        out.extend(_day(random.Random(f"{seed}:slack:{day.isoformat()}"), day, zone))
        day += timedelta(days=1)
    return out


def _day(rng: random.Random, day: date, zone: ZoneInfo) -> list[SlackMessage]:
    if day.weekday() >= 5:
        return []
    taken: set[tuple[str, datetime]] = set()

    def instant(channel: str) -> datetime:
        while True:
            hour = rng.choices(range(24), weights=_HOURS)[0]
            local = datetime.combine(day, time(hour), tzinfo=zone)
            at = (local + timedelta(microseconds=rng.randrange(3_600_000_000))).astimezone(UTC)
            if (channel, at) not in taken:  # a ts is unique within a channel
                taken.add((channel, at))
                return at

    out: list[SlackMessage] = []
    for (user, channel), mean in _RATES.items():
        for _ in range(max(0, round(rng.gauss(mean, mean * 0.3)))):
            subtype = "thread_broadcast" if rng.random() < 0.05 else None
            out.append(SlackMessage(channel, instant(channel), user, "on it", subtype))
    # Not messages a person sent: a deploy bot's post and, now and then, someone joining #general.
    out.append(SlackMessage("C07GENERAL", instant("C07GENERAL"), None, "Deployed", "bot_message", "B07DEPLOY1"))
    if rng.random() < 0.1:
        joiner = rng.choice((ALICE_SLACK_ID, BOB_SLACK_ID, CAROL_SLACK_ID))
        out.append(SlackMessage("C07GENERAL", instant("C07GENERAL"), joiner, "has joined", "channel_join"))
    return out


def expected_counts(
    events: Sequence[SlackMessage], zone: ZoneInfo, start: datetime, end: datetime
) -> dict[tuple[str, str, date], float]:
    """Count messages people posted in `[start, end)`, per user and local day (joins and bots excluded)."""
    counts: dict[tuple[str, str, date], float] = {}
    for m in events:
        if m.user is None or (m.subtype is not None and m.subtype not in COUNTED_SUBTYPES):
            continue
        if start <= m.posted_at < end:
            key = ("messages_sent", m.user, m.posted_at.astimezone(zone).date())
            counts[key] = counts.get(key, 0.0) + 1.0
    return counts
