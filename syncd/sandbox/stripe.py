"""A fake Stripe API (`/v1`): customers and subscriptions lists, key auth, 25 requests per second.

Faithful to what the reference records about Stripe; where the vendor is silent we choose:
- Auth by `Authorization: Bearer <key>` or HTTP Basic with the key as user name. A bad key is
  401 `{"error": {"type": "invalid_request_error", "message": "Invalid API Key provided: sk_…"}}`
  with the key masked.
- Lists are newest first (`created` descending); `created` is Unix seconds and filters with
  `created`, `created[gt|gte|lt|lte]`; `limit` is 1-100 (default 10); `starting_after` /
  `ending_before` take an id of the list, an unknown one is 400 `resource_missing`.
  Unknown parameters are 400 `parameter_unknown`, as Stripe answers.
- `/v1/subscriptions` without `status` hides canceled subscriptions; `status=all` shows every one.
- 25 requests per rolling second per key (the sandbox figure); over it, 429 with the error shape
  and code `rate_limit`, no `Retry-After` **(unconfirmed: what Stripe sends)**.
Objects after the clock's "now" are not served.

Stripe counts the account, not people: every count's subject is `all`. The demo team (alice,
bob, carol) shares one account; its customers and subscriptions are drawn per day below.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import random
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from aiohttp import web

from syncd.clock import Clock

__all__ = [
    "STRIPE_RATE_LIMIT",
    "StripeFake",
    "StripeObject",
    "demo_events",
    "expected_counts",
]

STRIPE_RATE_LIMIT = 25
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
SUBSCRIPTION_STATUSES = (
    "active",
    "past_due",
    "unpaid",
    "canceled",
    "incomplete",
    "incomplete_expired",
    "trialing",
    "paused",
)
_CREATED_OPS = ("gt", "gte", "lt", "lte")
_COMMON_PARAMS = frozenset(
    {"limit", "starting_after", "ending_before", "created", "expand[]", "test_clock"}
    | {f"created[{op}]" for op in _CREATED_OPS}
)
_PARAMS: Mapping[str, frozenset[str]] = {
    "customer": _COMMON_PARAMS | {"email"},
    "subscription": _COMMON_PARAMS | {"status", "customer", "price", "collection_method"},
}

StripeKind = Literal["customer", "subscription"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class StripeObject:
    """A customer or subscription; `created` has whole seconds, `status` is for subscriptions."""

    kind: StripeKind
    id: str
    created: datetime
    status: str | None = None
    customer: str | None = None


class _StripeError(Exception):
    def __init__(self, status: int, message: str, *, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.param = status, code, param


def _error_response(exc: _StripeError) -> web.Response:
    error: dict[str, object] = {"type": "invalid_request_error", "message": str(exc)}
    if exc.code is not None:
        error["code"] = exc.code
        error["doc_url"] = f"https://stripe.com/docs/error-codes/{exc.code.replace('_', '-')}"
    if exc.param is not None:
        error["param"] = exc.param
    return web.json_response({"error": error}, status=exc.status)


class StripeFake:
    """The Stripe fake: build its aiohttp application with `app()`."""

    def __init__(self, events: Sequence[StripeObject], clock: Clock, api_key: str) -> None:
        self._objects = sorted(events, key=lambda o: (o.created, o.id), reverse=True)
        self._clock = clock
        self._api_key = api_key
        self._sent: deque[float] = deque()
        self.rate_limited = 0  # 429s served, for tests

    def app(self) -> web.Application:
        """Return the application serving `/v1/customers`, `/v1/subscriptions` and `/_sandbox/health`."""
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/v1/customers", self._customers)
        app.router.add_get("/v1/subscriptions", self._subscriptions)
        app.router.add_get("/_sandbox/health", _health)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/v1/"):
            return await handler(request)
        key = _presented_key(request)
        if not key:
            return _error_response(
                _StripeError(401, "You did not provide an API key. Provide it in the Authorization header.")
            )
        if not hmac.compare_digest(key.encode(), self._api_key.encode()):
            masked = f"{key[:8]}{'*' * 12}{key[-4:]}" if len(key) > 12 else "****"
            return _error_response(_StripeError(401, f"Invalid API Key provided: {masked}"))
        if not self._allow():
            self.rate_limited += 1
            return _error_response(_StripeError(429, "Too many requests hit the API too quickly.", code="rate_limit"))
        try:
            return await handler(request)
        except _StripeError as exc:
            return _error_response(exc)

    def _allow(self) -> bool:
        now = self._clock.monotonic()
        while self._sent and self._sent[0] <= now - 1.0:
            self._sent.popleft()
        if len(self._sent) >= STRIPE_RATE_LIMIT:
            return False
        self._sent.append(now)
        return True

    async def _customers(self, request: web.Request) -> web.StreamResponse:
        return self._list(request, "customer", lambda o: True)

    async def _subscriptions(self, request: web.Request) -> web.StreamResponse:
        status = request.query.get("status")
        if status is None:
            return self._list(request, "subscription", lambda o: o.status != "canceled")
        if status == "all":
            return self._list(request, "subscription", lambda o: True)
        if status == "ended":
            return self._list(request, "subscription", lambda o: o.status in ("canceled", "incomplete_expired"))
        if status not in SUBSCRIPTION_STATUSES:
            raise _StripeError(
                400, f"Invalid status: must be one of {', '.join(SUBSCRIPTION_STATUSES)}, all or ended", param="status"
            )
        return self._list(request, "subscription", lambda o: o.status == status)

    def _list(self, request: web.Request, kind: StripeKind, keep: Callable[[StripeObject], bool]) -> web.Response:
        q = request.query
        for name in q:
            if name not in _PARAMS[kind]:
                raise _StripeError(400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name)
        limit = _integer(q.get("limit"), "limit", DEFAULT_LIMIT)
        if not 1 <= limit <= MAX_LIMIT:
            raise _StripeError(400, f"Invalid integer: {limit}; must be between 1 and 100", param="limit")
        bounds = _created_bounds(q)
        now = self._clock.now()
        rows = [
            o
            for o in self._objects
            if o.kind == kind and o.created <= now and keep(o) and all(ok(int(o.created.timestamp())) for ok in bounds)
        ]
        if q.get("starting_after"):
            index = _index_of(rows, q["starting_after"], kind, "starting_after")
            page = rows[index + 1 : index + 1 + limit]
            has_more = index + 1 + limit < len(rows)
        elif q.get("ending_before"):
            index = _index_of(rows, q["ending_before"], kind, "ending_before")
            page = rows[max(0, index - limit) : index]
            has_more = index - limit > 0
        else:
            page, has_more = rows[:limit], limit < len(rows)
        return web.json_response(
            {"object": "list", "url": f"/v1/{kind}s", "has_more": has_more, "data": [_object(o) for o in page]}
        )


async def _health(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"})


def _presented_key(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    if auth[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(auth[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0]
    return None


def _integer(raw: str | None, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise _StripeError(400, f"Invalid integer: {raw}", param=name) from None


def _created_bounds(q: Mapping[str, str]) -> list[Callable[[int], bool]]:
    bounds: list[Callable[[int], bool]] = []
    if q.get("created"):
        exact = _integer(q["created"], "created", 0)
        bounds.append(lambda c: c == exact)
    for op in _CREATED_OPS:
        raw = q.get(f"created[{op}]")
        if raw:
            bounds.append(_bound(op, _integer(raw, f"created[{op}]", 0)))
    return bounds


def _bound(op: str, value: int) -> Callable[[int], bool]:
    tests: Mapping[str, Callable[[int], bool]] = {
        "gt": lambda c: c > value,
        "gte": lambda c: c >= value,
        "lt": lambda c: c < value,
        "lte": lambda c: c <= value,
    }
    return tests[op]


def _index_of(rows: Sequence[StripeObject], object_id: str, kind: StripeKind, param: str) -> int:
    for index, o in enumerate(rows):
        if o.id == object_id:
            return index
    raise _StripeError(400, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


def _object(o: StripeObject) -> dict[str, object]:
    created = int(o.created.timestamp())
    if o.kind == "customer":
        return {"id": o.id, "object": "customer", "created": created, "livemode": False, "email": None}
    return {
        "id": o.id,
        "object": "subscription",
        "created": created,
        "start_date": created,
        "status": o.status,
        "customer": o.customer,
        "livemode": False,
    }


# --- the demo account's customers and subscriptions ---------------------------------------------

_SIGNUP_HOURS = (1, 1, 0, 0, 0, 1, 1, 2, 4, 6, 7, 7, 6, 6, 6, 6, 5, 5, 4, 4, 3, 3, 2, 1)
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def demo_events(seed: int, first_day: date, last_day: date, zone: ZoneInfo) -> list[StripeObject]:
    """Draw the demo account's customers and subscriptions for local days `first_day..last_day`."""
    out: list[StripeObject] = []
    day = first_day
    while day <= last_day:
        rng = random.Random(f"{seed}:stripe:{day.isoformat()}")
        mean = 6.0 if day.weekday() < 5 else 2.5
        for _ in range(max(0, round(rng.gauss(mean, mean * 0.4)))):
            hour = rng.choices(range(24), weights=_SIGNUP_HOURS)[0]
            local = datetime.combine(day, time(hour), tzinfo=zone) + timedelta(seconds=rng.randrange(3600))
            created = local.astimezone(UTC)
            customer = "cus_" + "".join(rng.choices(_ALPHABET, k=14))
            out.append(StripeObject("customer", customer, created))
            if rng.random() < 0.55:
                # Checkout creates the subscription a few seconds after the customer.
                status = rng.choices(("active", "trialing", "canceled", "past_due"), weights=(70, 15, 12, 3))[0]
                subscription = "sub_" + "".join(rng.choices(_ALPHABET, k=24))
                at = created + timedelta(seconds=rng.randrange(2, 40))
                out.append(StripeObject("subscription", subscription, at, status, customer))
        day += timedelta(days=1)
    return out


def expected_counts(
    events: Sequence[StripeObject], zone: ZoneInfo, start: datetime, end: datetime
) -> dict[tuple[str, str, date], float]:
    """Count customers and subscriptions (canceled included) created in `[start, end)` per local day."""
    counts: dict[tuple[str, str, date], float] = {}
    for o in events:
        if start <= o.created < end:
            metric = "new_customers" if o.kind == "customer" else "new_subscriptions"
            key = (metric, "all", o.created.astimezone(zone).date())
            counts[key] = counts.get(key, 0.0) + 1.0
    return counts
