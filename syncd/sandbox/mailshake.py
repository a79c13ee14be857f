"""A fake Mailshake API (`/2017-04-01`): `me`, the sent and replies activity feeds, quota, errors.

Faithful to what the reference, api-docs.mailshake.com and singer-io/tap-mailshake record; where
the vendor is silent we choose (marked **(unconfirmed)**):
- Auth: HTTP Basic with the key as user name (empty password), or an `apiKey` parameter.
  Calls may be GET (query) or POST (form or JSON body).
- Feeds are newest first; `perPage` 1..100 (default 100); `nextToken` is opaque and is the
  EMPTY string on the last page. There is no date filter.
- `/activity/replies` lists replies, bounces, out-of-office and unsubscribe answers; `replyType`
  filters them. A reply names its lead in `from` and the sender in `to` **(unconfirmed)**, and
  points at the sent message it answers in `parent`.
- Errors are `{error, message, code}`: 401 `invalid_api_key`, 400 `invalid_parameter`, and over
  the quota 429 `limit_reached` **(unconfirmed: the status codes; the quota numbers are not
  published, we allow 20 requests per rolling minute, the tap's one request per 3 s)**.

Demo identities: alice@acme.io, bob@acme.io and carol@acme.io send from their own mailboxes.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import random
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from aiohttp import web

from syncd.clock import Clock

__all__ = [
    "MAILSHAKE_QUOTA",
    "MAILSHAKE_QUOTA_WINDOW_SECONDS",
    "MailshakeEvent",
    "MailshakeFake",
    "demo_events",
    "expected_counts",
    "format_mailshake_time",
]

MailshakeKind = Literal["sent", "reply", "bounce", "out-of-office"]
MAILSHAKE_QUOTA = 20
MAILSHAKE_QUOTA_WINDOW_SECONDS = 60.0
MAX_PER_PAGE = 100
_PREFIX = "/2017-04-01"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_PARAMS = web.RequestKey("mailshake_params", dict[str, str])


@dataclass(frozen=True)
class MailshakeEvent:
    """A sent email, or an answer to one (`parent_id`: the sent email's id)."""

    id: int
    kind: MailshakeKind
    sender: str
    at: datetime
    lead: str
    parent_id: int | None = None


def format_mailshake_time(at: datetime) -> str:
    """Format an instant as Mailshake does: `2017-08-19T02:31:22.218Z`."""
    at = at.astimezone(UTC)
    return f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}Z"


class _Failure(Exception):
    """An error answered in Mailshake's shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class MailshakeFake:
    """The Mailshake fake: build its aiohttp application with `app()`."""

    def __init__(self, events: Sequence[MailshakeEvent], clock: Clock, api_key: str) -> None:
        # Newest first, as the feeds are served; ids break ties so paging is stable.
        self._events = sorted(events, key=lambda e: (e.at, e.id), reverse=True)
        self._by_id = {e.id: e for e in events}
        self._clock = clock
        self._api_key = api_key
        self._sent_at: dict[str, deque[float]] = {}

    def app(self) -> web.Application:
        """Return the application serving `/2017-04-01/...` (GET or POST)."""
        app = web.Application(middlewares=[self._guard])
        for path, handler in (
            ("/me", self._me),
            ("/activity/sent", self._sent),
            ("/activity/replies", self._replies),
        ):
            app.router.add_get(_PREFIX + path, handler)
            app.router.add_post(_PREFIX + path, handler)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        params = await _params(request)
        presented = _presented_key(request, params)
        try:
            self._spend(presented or "")
            if presented is None or not hmac.compare_digest(presented.encode(), self._api_key.encode()):
                raise _Failure(401, "invalid_api_key", "The API key is invalid")
            request[_PARAMS] = params
            return await handler(request)
        except _Failure as failure:
            body = {"error": failure.message, "message": failure.message, "code": failure.code}
            return web.json_response(body, status=failure.status)

    def _spend(self, key: str) -> None:
        now = self._clock.monotonic()
        sent = self._sent_at.setdefault(key, deque())
        while sent and sent[0] <= now - MAILSHAKE_QUOTA_WINDOW_SECONDS:
            sent.popleft()
        if len(sent) >= MAILSHAKE_QUOTA:
            raise _Failure(429, "limit_reached", "You have reached your API quota; try again later")
        sent.append(now)

    async def _me(self, request: web.Request) -> web.StreamResponse:
        user = {"object": "user", "id": 1, "teamID": 1, "teamName": "Acme", "emailAddress": "alice@acme.io"}
        return web.json_response({"object": "me", "user": user})

    async def _sent(self, request: web.Request) -> web.StreamResponse:
        params = request[_PARAMS]
        items = [e for e in self._served() if e.kind == "sent"]
        return self._page(params, items, self._sent_record)

    async def _replies(self, request: web.Request) -> web.StreamResponse:
        params = request[_PARAMS]
        reply_type = params.get("replyType")
        items = [e for e in self._served() if e.kind != "sent" and (reply_type is None or e.kind == reply_type)]
        return self._page(params, items, self._reply_record)

    def _served(self) -> list[MailshakeEvent]:
        now = self._clock.now()
        return [e for e in self._events if e.at <= now]

    def _page(
        self,
        params: Mapping[str, str],
        items: list[MailshakeEvent],
        render: Callable[[MailshakeEvent], dict[str, object]],
    ) -> web.StreamResponse:
        try:
            per_page = int(params.get("perPage") or MAX_PER_PAGE)
        except ValueError:
            raise _Failure(400, "invalid_parameter", "perPage must be a number") from None
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise _Failure(400, "invalid_parameter", f"perPage must be between 1 and {MAX_PER_PAGE}")
        offset = _offset(params.get("nextToken"))
        page = items[offset : offset + per_page]
        more = offset + per_page < len(items)
        token = base64.urlsafe_b64encode(json.dumps({"o": offset + per_page}).encode()).decode() if more else ""
        return web.json_response({"nextToken": token, "results": [render(e) for e in page]})

    def _sent_record(self, event: MailshakeEvent) -> dict[str, object]:
        return {
            "object": "sent-message",
            "id": event.id,
            "actionDate": format_mailshake_time(event.at),
            "recipient": _recipient(event),
            "campaign": _CAMPAIGN,
            "type": "campaign-message",
            "message": {"object": "message", "id": 11, "type": "initial", "subject": "Quick question"},
            "from": _address(event.sender),
            "to": [_address(event.lead)],
            "subject": "Quick question",
            "externalID": f"<{event.id}@mail.acme.io>",
        }

    def _reply_record(self, event: MailshakeEvent) -> dict[str, object]:
        parent = self._by_id.get(event.parent_id) if event.parent_id is not None else None
        return {
            "object": "reply",
            "id": event.id,
            "actionDate": format_mailshake_time(event.at),
            "recipient": _recipient(event),
            "campaign": _CAMPAIGN,
            "type": event.kind,
            "parent": {
                "object": "sent-message",
                "id": parent.id if parent else None,
                "type": "campaign-message",
                "message": {"object": "message", "id": 11, "type": "initial", "subject": "Quick question"},
            },
            "from": _address(event.lead),
            "to": [_address(event.sender)],
            "subject": "Re: Quick question",
            "externalID": f"<{event.id}@prospect.example>",
        }


_CAMPAIGN = {"object": "campaign", "id": 1, "title": "Q4 outbound", "created": "2026-01-05T09:00:00.000Z"}


def _address(email: str) -> dict[str, object]:
    return {"object": "email-address", "address": email, "fullName": email.split("@", 1)[0].title()}


def _recipient(event: MailshakeEvent) -> dict[str, object]:
    return {"object": "recipient", "id": zlib.crc32(event.lead.encode()) % 100_000, "emailAddress": event.lead}


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["o"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise _Failure(400, "invalid_parameter", "nextToken is invalid") from None
    if not isinstance(offset, int) or offset < 0:
        raise _Failure(400, "invalid_parameter", "nextToken is invalid")
    return offset


async def _params(request: web.Request) -> dict[str, str]:
    """Merge query parameters with a form or JSON body, as Mailshake accepts either."""
    params = {k: v for k, v in request.query.items()}
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                body = {}
            if isinstance(body, dict):
                params.update({str(k): str(v) for k, v in body.items() if v is not None})
        else:
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def _presented_key(request: web.Request, params: Mapping[str, str]) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(auth[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, _ = decoded.partition(":")
        return user or None
    return params.get("apiKey") or None


# --- demo activity and ground truth ---------------------------------------------------------------

_SENDERS = (("alice@acme.io", 18.0), ("bob@acme.io", 7.0), ("carol@acme.io", 11.0))
_ANSWER_KINDS: tuple[MailshakeKind, ...] = ("reply", "reply", "reply", "bounce", "out-of-office")


def demo_events(seed: int, first_day: date, last_day: date, zone: ZoneInfo) -> list[MailshakeEvent]:
    """Draw a small team's sends and the answers they get, business days, office hours in `zone`."""
    events: list[MailshakeEvent] = []
    day = first_day
    while day <= last_day:
        rng = random.Random(f"mailshake:{seed}:{day.isoformat()}")
        base_id = day.toordinal() * 10_000
        n = 0
        if day.weekday() < 5:
            for sender, mean in _SENDERS:
                for _ in range(max(0, round(rng.gauss(mean, mean / 5)))):
                    local = datetime.combine(day, time(8), tzinfo=zone) + timedelta(
                        seconds=rng.randrange(10 * 3600), milliseconds=rng.randrange(1000)
                    )
                    at = local.astimezone(UTC)
                    lead = f"lead{rng.randrange(10_000)}@prospect.example"
                    sent = MailshakeEvent(base_id + n, "sent", sender, at, lead)
                    n += 1
                    events.append(sent)
                    if rng.random() < 0.12:
                        later = at + timedelta(minutes=rng.randrange(5, 30 * 60), milliseconds=rng.randrange(1000))
                        kind = rng.choice(_ANSWER_KINDS)
                        events.append(MailshakeEvent(base_id + n, kind, sender, later, lead, parent_id=sent.id))
                        n += 1
        day += timedelta(days=1)
    return sorted(events, key=lambda e: (e.at, e.id))


def expected_counts(
    events: Sequence[MailshakeEvent], zone: ZoneInfo, start: datetime, end: datetime
) -> dict[tuple[str, str, date], float]:
    """Count sends and replies (bounces and out-of-office excluded) in `[start, end)` by local day."""
    counts: dict[tuple[str, str, date], float] = {}
    for event in events:
        # Served with millisecond precision: the window applies to what is served.
        at = event.at.astimezone(UTC).replace(microsecond=event.at.microsecond // 1000 * 1000)
        if event.kind not in ("sent", "reply") or not start <= at < end:
            continue
        key = ("emails_sent" if event.kind == "sent" else "replies", event.sender.lower(), at.astimezone(zone).date())
        counts[key] = counts.get(key, 0.0) + 1.0
    return counts
