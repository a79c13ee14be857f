"""lemlist: outreach emails sent and replied, per sending mailbox, from the activities feed.

What this relies on (the lemlist developer docs, as summarised in the reference):
- `GET /activities?type=…&minDate=…&maxDate=…&limit=100&offset=N` (plus `campaignId`) answers
  a bare JSON array; `limit` is at most 100 and there is no total, so a short page is the last.
- Items carry `_id`, `type`, `createdAt` (ISO 8601 in UTC) and `sendUserEmail`, the subject.
- Auth is HTTP Basic with an empty user name and the key as password (kept out of the URL).
- The key may make 20 requests per 2 s; 429s carry `Retry-After` and `X-RateLimit-*` headers,
  the reset as a human-readable date (parsed in `connectors.ratelimit`).

Unconfirmed, and handled defensively:
- The replies type `emailsReplied` is the likely name, not a documented one. Items whose `type`
  differs from the one asked for are skipped, so a vendor that ignored an unknown type cannot
  turn every activity into a "reply".
- Whether `minDate`/`maxDate` are inclusive: the window is applied again here, half-open.
- The order of items: an activity arriving mid-read may shift offsets and repeat an item, so
  items are counted once per `_id`.
- `GET /team` as the cheap call for `check()`; the error body shape.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
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
from connectors.http import (
    HttpPolicy,
    RateLimit,
    SourceHttpClient,
    basic_auth_value,
    paginate_offset,
    parse_payload,
)

__all__ = ["LemlistConnector", "LemlistSettings"]

DEFAULT_BASE_URL = "https://api.lemlist.com/api"
PAGE_SIZE = 100  # the most lemlist serves per page
RATE_LIMIT = RateLimit(requests=20, per_seconds=2.0)  # lemlist's documented limit per API key
UNKNOWN_SENDER = "unknown"

# metric -> lemlist activity type
ACTIVITY_TYPES: Mapping[str, str] = {"emails_sent": "emailsSent", "emails_replied": "emailsReplied"}


class LemlistSettings(ConnectorSettings):
    """A lemlist account: its API key and, optionally, the campaigns to count."""

    api_key: SecretStr = Field(description="the lemlist API key (secret)")
    campaign_ids: list[str] | None = Field(
        default=None, description="count only these campaigns (ids like cam_...); default: all"
    )


class _Activity(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str | None = Field(default=None, alias="_id")
    type: str | None = None
    created_at: AwareDatetime = Field(alias="createdAt")
    send_user_email: str | None = Field(default=None, alias="sendUserEmail")


_ACTIVITIES = TypeAdapter(list[_Activity])


class LemlistConnector:
    """Counts lemlist `emailsSent` and `emailsReplied` activities per sender and local day."""

    type_name: ClassVar[str] = "lemlist"
    settings_model: ClassVar[type[ConnectorSettings]] = LemlistSettings
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec("emails_sent", "Emails sent from each lemlist sender", subject="sender email"),
        MetricSpec("emails_replied", "Replies received by each lemlist sender", subject="sender email"),
    )
    history_limit: ClassVar[timedelta | None] = None

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        settings = expect_settings(settings, LemlistSettings)
        self._settings = settings
        self._source = context.source
        key = settings.api_key.get_secret_value()
        authorization = basic_auth_value("", key)
        self._http = SourceHttpClient(
            context=context,
            base_url=settings.base_url or DEFAULT_BASE_URL,
            headers={"Authorization": authorization},
            policy=HttpPolicy(rate_limit=RATE_LIMIT),
            secrets=(key, authorization.removeprefix("Basic ")),
        )

    async def check(self) -> None:
        """Read the team, the cheapest authenticated call."""
        await self._http.get_json("/team")

    async def collect(self, window: SyncWindow, state: Mapping[str, str]) -> CollectResult:
        """Count sent and replied emails per sender for each local day of `window`."""
        counts: Counter[tuple[str, str, date]] = Counter()
        if window.end <= window.start:
            return CollectResult(counts=[])
        campaigns: Sequence[str | None] = self._settings.campaign_ids or [None]
        for metric, activity_type in ACTIVITY_TYPES.items():
            seen: set[str] = set()
            for campaign in campaigns:
                async for activity in self._activities(activity_type, campaign, window):
                    if activity.type is not None and activity.type != activity_type:
                        continue
                    if activity.id is not None:
                        if activity.id in seen:
                            continue
                        seen.add(activity.id)
                    if not window.contains(activity.created_at):
                        continue
                    subject = _sender(activity.send_user_email)
                    counts[(metric, subject, local_day(activity.created_at, window.timezone))] += 1
        return CollectResult(
            counts=[
                DailyCount(metric=metric, subject=subject, day=day, value=float(value))
                for (metric, subject, day), value in sorted(counts.items())
            ]
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    def _activities(self, activity_type: str, campaign: str | None, window: SyncWindow) -> AsyncIterator[_Activity]:
        base_params: dict[str, str] = {
            "type": activity_type,
            "minDate": _iso_utc(window.start),
            "maxDate": _iso_utc(window.end),
        }
        if campaign is not None:
            base_params["campaignId"] = campaign

        async def fetch(offset: int, limit: int) -> object:
            params = {**base_params, "limit": str(limit), "offset": str(offset)}
            return await self._http.get_json("/activities", params=params)

        def extract(payload: object) -> list[_Activity]:
            return parse_payload(_ACTIVITIES, payload, source=self._source, what="GET /activities")

        return paginate_offset(fetch, extract, limit=PAGE_SIZE, source=self._source)


def _iso_utc(instant: datetime) -> str:
    """Format an instant as lemlist writes them: UTC, milliseconds, `Z`."""
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _sender(email: str | None) -> str:
    """Normalise a sender's address: email addresses compare case-insensitively."""
    cleaned = (email or "").strip().lower()
    return cleaned or UNKNOWN_SENDER
