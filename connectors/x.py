"""X (Twitter) API v2: direct messages sent by the token's owner, per local day.

What this relies on (X's v2 Direct Messages lookup docs, as summarised in the reference):
- `GET /2/dm_events?event_types=MessageCreate&dm_event.fields=…&max_results=100&pagination_token=…`
  lists the DM events of the authenticated user's conversations, one-to-one and group, newest
  first; it answers `{data: [{id, event_type, sender_id, created_at, …}], meta: {result_count,
  next_token}}` and `next_token` is absent on the last page. There is no time parameter, and only
  the last 30 days are served.
- The list holds DMs the user *received* as well as sent: only `MessageCreate` events whose
  `sender_id` is the owner's id (from `GET /2/users/me`, `{data: {id, username, …}}`) are DMs sent.
- Auth is a user-context OAuth 2.0 bearer token. Limits are per user in 15-minute windows, with
  `x-rate-limit-limit`, `x-rate-limit-remaining` and `x-rate-limit-reset` (epoch seconds) on every
  answer; the HTTP layer pauses until the reset when `remaining` reaches 0. Errors are problem JSON
  (`{title, detail, type}`); a 429 body is `{"errors":[{"code":88,…}]}`.

Unconfirmed, and handled defensively:
- The dm_events figure per 15 minutes for each tier. We pace at 15 requests per 15 minutes, the
  per-user figure X published for the v1.1 DM events list, and obey the headers above that.
- Strict newest-first order: we stop only after a page whose every event is older than the window,
  and apply the half-open window to `created_at` here; events are counted once per `id`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import date, timedelta
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, TypeAdapter

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
from connectors.http import HttpPolicy, RateLimit, bearer_client, parse_payload
from syncd.errors import SourceResponseError

__all__ = ["XConnector", "XSettings"]

DEFAULT_BASE_URL = "https://api.x.com/2"
PAGE_SIZE = 100  # the most dm_events serves per page
HISTORY = timedelta(days=30)  # dm_events serves the last 30 days only
RATE_LIMIT = RateLimit(requests=15, per_seconds=15 * 60.0)
MAX_PAGES = 1000  # a 30-day history of 100,000 DMs; more means the cursor is looping
METRIC = "dms_sent"
MESSAGE_CREATE = "MessageCreate"
EVENT_FIELDS = "id,event_type,created_at,sender_id,dm_conversation_id"


class XSettings(ConnectorSettings):
    """An X account: a user-context OAuth 2.0 access token with `dm.read`, `users.read`, `tweet.read`."""

    api_key: SecretStr = Field(description="a user-context OAuth 2.0 access token (secret)")


class _User(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    id: str


class _Me(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: _User


class _DmEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    id: str | None = None
    event_type: str
    sender_id: str | None = None
    created_at: AwareDatetime | None = None


class _Meta(BaseModel):
    model_config = ConfigDict(extra="ignore")

    result_count: int | None = None
    next_token: str | None = None


class _DmPage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # An empty page has no `data` at all, only `meta.result_count: 0`.
    data: list[_DmEvent] = Field(default_factory=list)
    meta: _Meta = Field(default_factory=_Meta)


_ME = TypeAdapter(_Me)
_PAGE = TypeAdapter(_DmPage)


class XConnector:
    """Counts DMs the token's owner sent on X, per local day, within the last 30 days."""

    type_name: ClassVar[str] = "x"
    settings_model: ClassVar[type[ConnectorSettings]] = XSettings
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec(METRIC, "Direct messages sent on X (received ones excluded)", subject="the sender's user id"),
    )
    history_limit: ClassVar[timedelta | None] = HISTORY
    # dm_events has no time parameter: every read pages back from the newest DM. A backfill in
    # weekly chunks would page through the newer weeks once per chunk and spend X's 15 reads per
    # 15 minutes on pages it already read; it reads the 30 days in one window instead.
    date_filter: ClassVar[bool] = False

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        settings = expect_settings(settings, XSettings)
        self._source = context.source
        self._clock = context.clock
        self._http = bearer_client(
            context,
            settings,
            default_base_url=DEFAULT_BASE_URL,
            policy=HttpPolicy(rate_limit=RATE_LIMIT),
        )
        self._user_id: str | None = None

    async def check(self) -> None:
        """Read the token's owner, the cheapest authenticated call."""
        await self._owner_id()

    async def collect(self, window: SyncWindow, state: Mapping[str, str]) -> CollectResult:
        """Count DMs the owner sent on each local day of `window` (only the last 30 days exist)."""
        if window.end <= window.start:
            return CollectResult(counts=[])
        owner = await self._owner_id()
        per_day: Counter[date] = Counter()
        seen: set[str] = set()
        cursor: str | None = None
        cursors: set[str] = set()
        for _ in range(MAX_PAGES):
            page = await self._page(cursor)
            for event in page.data:
                if event.id is not None:
                    if event.id in seen:
                        continue
                    seen.add(event.id)
                if event.event_type != MESSAGE_CREATE or event.sender_id != owner:
                    continue
                if event.created_at is None:
                    raise SourceResponseError(
                        f"{self._source}: a DM event came without created_at", source=self._source
                    )
                if window.contains(event.created_at):
                    per_day[local_day(event.created_at, window.timezone)] += 1
            cursor = page.meta.next_token
            if not cursor or _all_before(page, window):
                break
            if cursor in cursors:
                raise SourceResponseError(
                    f"{self._source} returned a pagination token it had already returned", source=self._source
                )
            cursors.add(cursor)
        else:
            raise SourceResponseError(f"{self._source} still had more pages after {MAX_PAGES}", source=self._source)
        counts = [
            DailyCount(metric=METRIC, subject=owner, day=day, value=float(value))
            for day, value in sorted(per_day.items())
        ]
        return self._with_history_limit(counts, window)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    async def _owner_id(self) -> str:
        if self._user_id is None:
            payload = await self._http.get_json("/users/me")
            self._user_id = parse_payload(_ME, payload, source=self._source, what="GET /users/me").data.id
        return self._user_id

    async def _page(self, cursor: str | None) -> _DmPage:
        params = {
            "event_types": MESSAGE_CREATE,
            "dm_event.fields": EVENT_FIELDS,
            "max_results": str(PAGE_SIZE),
        }
        if cursor is not None:
            params["pagination_token"] = cursor
        payload = await self._http.get_json("/dm_events", params=params)
        return parse_payload(_PAGE, payload, source=self._source, what="GET /dm_events")

    def _with_history_limit(self, counts: list[DailyCount], window: SyncWindow) -> CollectResult:
        """Mark the days X no longer serves as incomplete, so stored counts for them are kept."""
        oldest_whole_day = local_day(self._clock.now() - HISTORY, window.timezone) + timedelta(days=1)
        if window.first_day >= oldest_whole_day:
            return CollectResult(counts=counts)
        return CollectResult(
            counts=[c for c in counts if c.day >= oldest_whole_day],
            complete_from=oldest_whole_day,
            notes=(
                f"{self._source}: X serves only the last 30 days of DMs; "
                f"counts before {oldest_whole_day.isoformat()} were left as stored",
            ),
        )


def _all_before(page: _DmPage, window: SyncWindow) -> bool:
    """Whether every event of a non-empty page is older than the window (the rest are older still)."""
    instants = [e.created_at for e in page.data if e.created_at is not None]
    return bool(instants) and max(instants) < window.start
