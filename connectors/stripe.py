"""Stripe: customers and subscriptions created per local day, for the whole account.

What this relies on (docs.stripe.com, as summarised in the reference):
- `GET /v1/customers` and `GET /v1/subscriptions` take `created[gte]` / `created[lt]` in Unix
  seconds, `limit` (1-100, default 10) and `starting_after=<last id>`; they answer
  `{object: "list", url, has_more, data: [{id, object, created, …}]}`, newest first.
- Subscriptions are listed without the canceled ones unless `status` says otherwise, so we send
  `status=all`: a subscription created and canceled in the window was still new that day.
- Auth is `Authorization: Bearer sk_…` (or a restricted `rk_…` key with read access to both).
- Errors are `{"error": {type, code, message, param, doc_url}}`; 401 is a bad key, 403 a
  restricted key without the permission, 429 the rate limit (the HTTP layer maps each).
- Limits: 100 operations per second live, 25 in a sandbox, and most endpoints 25 per second.

Decisions: `created` has whole seconds while the window's end may not, so `created[lt]` is the
next whole second and the exact half-open window is applied here. We pace at 20 requests a
second, under every documented limit, leaving room for the account's other integrations.

Unconfirmed: whether a 429 carries `Retry-After` (without one the HTTP layer backs off
exponentially) and the `Stripe-Rate-Limited-Reason` header (not read).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter

from connectors.base import (
    CollectResult,
    ConnectorContext,
    ConnectorSettings,
    DailyCount,
    MetricSpec,
    SyncWindow,
    expect_settings,
    local_day,
)
from connectors.http import HttpPolicy, Page, RateLimit, bearer_client, paginate_cursor, parse_payload

__all__ = ["StripeConnector", "StripeSettings"]

DEFAULT_BASE_URL = "https://api.stripe.com/v1"
PAGE_SIZE = 100  # the most Stripe serves per page
RATE_LIMIT = RateLimit(requests=20, per_seconds=1.0)
SUBJECT = "all"

# metric -> (path, extra parameters)
LISTS: Mapping[str, tuple[str, Mapping[str, str]]] = {
    "new_customers": ("/customers", {}),
    "new_subscriptions": ("/subscriptions", {"status": "all"}),
}


class StripeSettings(ConnectorSettings):
    """A Stripe account: a secret key or a restricted key that may read customers and subscriptions."""

    api_key: SecretStr = Field(description="a Stripe secret (sk_…) or restricted (rk_…) key (secret)")


class _Object(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    created: int


class _List(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: list[_Object]
    has_more: bool


_LIST = TypeAdapter(_List)


class StripeConnector:
    """Counts Stripe customers and subscriptions by the local day they were created."""

    type_name: ClassVar[str] = "stripe"
    settings_model: ClassVar[type[ConnectorSettings]] = StripeSettings
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec("new_customers", "Customers created in Stripe", subject="the account (all)"),
        MetricSpec(
            "new_subscriptions", "Subscriptions created in Stripe, canceled included", subject="the account (all)"
        ),
    )
    history_limit: ClassVar[timedelta | None] = None

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        settings = expect_settings(settings, StripeSettings)
        self._source = context.source
        self._http = bearer_client(
            context,
            settings,
            default_base_url=DEFAULT_BASE_URL,
            policy=HttpPolicy(rate_limit=RATE_LIMIT),
        )

    async def check(self) -> None:
        """List one customer, the cheapest call that needs the permission syncs need."""
        await self._http.get_json("/customers", params={"limit": "1"})

    async def collect(self, window: SyncWindow, state: Mapping[str, str]) -> CollectResult:
        """Count customers and subscriptions created on each local day of `window`."""
        counts: Counter[tuple[str, date]] = Counter()
        if window.end <= window.start:
            return CollectResult(counts=[])
        for metric, (path, extra) in LISTS.items():
            seen: set[str] = set()
            async for item in self._list(path, extra, window):
                if item.id in seen:
                    continue
                seen.add(item.id)
                created = datetime.fromtimestamp(item.created, UTC)
                if window.contains(created):
                    counts[(metric, local_day(created, window.timezone))] += 1
        return CollectResult(
            counts=[
                DailyCount(metric=metric, subject=SUBJECT, day=day, value=float(value))
                for (metric, day), value in sorted(counts.items())
            ]
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    def _list(self, path: str, extra: Mapping[str, str], window: SyncWindow) -> AsyncIterator[_Object]:
        base_params = {
            **extra,
            "created[gte]": str(math.floor(window.start.timestamp())),
            "created[lt]": str(math.ceil(window.end.timestamp())),
            "limit": str(PAGE_SIZE),
        }

        async def fetch(cursor: str | None) -> object:
            params = base_params if cursor is None else {**base_params, "starting_after": cursor}
            return await self._http.get_json(path, params=params)

        def extract(payload: object) -> Page[_Object]:
            page = parse_payload(_LIST, payload, source=self._source, what=f"GET {path}")
            more = page.has_more and page.data
            return Page(items=page.data, next_cursor=page.data[-1].id if more else None)

        return paginate_cursor(fetch, extract, source=self._source)
