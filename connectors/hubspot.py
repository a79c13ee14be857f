"""HubSpot: emails sent per owner (CRM search) and form submissions per form.

What this relies on (HubSpot's developer docs, as summarised in the reference):
- Auth is `Authorization: Bearer <private app or OAuth token>`.
- `POST /crm/v3/objects/emails/search` with filters `hs_timestamp GTE/LT <epoch ms>` and
  `hs_email_direction EQ EMAIL` (sent; `INCOMING_EMAIL` are replies) answers
  `{total, results: [{id, properties}], paging: {next: {after}}}`. A page holds at most 200
  results and one query reaches at most 10,000, so a window whose `total` is above 10,000 is
  halved until each half fits. `hs_timestamp` comes back as ISO 8601 (or epoch ms).
- The subject of an email is its `hubspot_owner_id` (`unassigned` when empty).
- `GET /form-integrations/v1/submissions/forms/{form_guid}?limit=50&after=…` answers
  `{results: [{conversionId, submittedAt (epoch ms), …}], paging: {next: {after}}}`, newest
  first, so reading stops at the first page that reaches back before the window.
- Search is limited to 4 requests/s per token (all other calls have larger limits, so one
  4-per-second limiter covers both). Over it: 429 with `{status: "error", errorType:
  "RATE_LIMIT", policyName: "SECONDLY"|"DAILY", …}` and `X-HubSpot-RateLimit-*` headers.

Unconfirmed: whether `total` is exact for email search (we split on it, then count by paging),
and `GET /crm/v3/objects/emails?limit=1` as the cheapest call (it needs the same scope).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import ClassVar
from urllib.parse import quote

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
from connectors.http import HttpPolicy, RateLimit, bearer_client, parse_payload
from syncd.errors import SourceResponseError

__all__ = ["HubspotConnector", "HubspotSettings"]

DEFAULT_BASE_URL = "https://api.hubapi.com"
SEARCH_PAGE_SIZE = 200  # the most CRM search serves per page
SEARCH_CAP = 10_000  # the most results one CRM search query reaches
FORM_PAGE_SIZE = 50  # the most the form submissions endpoint serves per page
RATE_LIMIT = RateLimit(requests=4, per_seconds=1.0)  # CRM search: 4 requests/s per token
UNASSIGNED = "unassigned"
MAX_PAGES = 100_000

SEARCH_PATH = "/crm/v3/objects/emails/search"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class HubspotSettings(ConnectorSettings):
    """A HubSpot account: a private app token and, optionally, the forms whose submissions count."""

    model_config = ConfigDict(coerce_numbers_to_str=True)

    api_key: SecretStr = Field(description="the private app or OAuth access token (secret)")
    form_ids: list[str] | None = Field(default=None, description="form GUIDs whose submissions count")


class _EmailProperties(BaseModel):
    model_config = ConfigDict(extra="ignore")

    hs_timestamp: str | None = None
    hubspot_owner_id: str | None = None
    hs_email_direction: str | None = None


class _Email(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    properties: _EmailProperties


class _Next(BaseModel):
    model_config = ConfigDict(extra="ignore")

    after: str | None = None


class _Paging(BaseModel):
    model_config = ConfigDict(extra="ignore")

    next: _Next | None = None


class _SearchPage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    total: int = 0
    results: list[_Email]
    paging: _Paging | None = None


class _Submission(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    conversion_id: str | None = Field(default=None, alias="conversionId")
    submitted_at: int = Field(alias="submittedAt")


class _SubmissionsPage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    results: list[_Submission]
    paging: _Paging | None = None


_SEARCH = TypeAdapter(_SearchPage)
_SUBMISSIONS = TypeAdapter(_SubmissionsPage)


class HubspotConnector:
    """Counts HubSpot emails sent per owner and form submissions per form, per local day."""

    type_name: ClassVar[str] = "hubspot"
    settings_model: ClassVar[type[ConnectorSettings]] = HubspotSettings
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec("emails_sent", "Emails logged as sent by each HubSpot owner", subject="HubSpot owner id"),
        MetricSpec("form_submissions", "Submissions of each HubSpot form", subject="form id"),
    )
    history_limit: ClassVar[timedelta | None] = None

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        settings = expect_settings(settings, HubspotSettings)
        self._settings = settings
        self._source = context.source
        self._http = bearer_client(
            context,
            settings,
            default_base_url=DEFAULT_BASE_URL,
            policy=HttpPolicy(rate_limit=RATE_LIMIT),
        )

    async def check(self) -> None:
        """Read one email object, the cheapest call that needs the emails scope."""
        await self._http.get_json("/crm/v3/objects/emails", params={"limit": 1, "archived": "false"})

    async def collect(self, window: SyncWindow, state: Mapping[str, str]) -> CollectResult:
        """Count sent emails per owner and submissions per form for each local day of `window`."""
        counts: Counter[tuple[str, str, date]] = Counter()
        if window.end <= window.start:
            return CollectResult(counts=[])
        notes: list[str] = []
        seen: set[str] = set()
        async for email in self._sent_emails(window, notes):
            if email.id in seen:
                continue
            seen.add(email.id)
            direction = email.properties.hs_email_direction
            if direction is not None and direction != "EMAIL":
                continue
            at = _parse_timestamp(email.properties.hs_timestamp)
            if at is None or not window.contains(at):
                continue
            owner = (email.properties.hubspot_owner_id or "").strip() or UNASSIGNED
            counts[("emails_sent", owner, local_day(at, window.timezone))] += 1
        for form_id in self._settings.form_ids or []:
            conversions: set[str] = set()
            async for submission in self._submissions(form_id, window):
                if submission.conversion_id is not None:
                    if submission.conversion_id in conversions:
                        continue
                    conversions.add(submission.conversion_id)
                at = _from_epoch_ms(submission.submitted_at)
                if window.contains(at):
                    counts[("form_submissions", form_id, local_day(at, window.timezone))] += 1
        return CollectResult(
            counts=[
                DailyCount(metric=metric, subject=subject, day=day, value=float(value))
                for (metric, subject, day), value in sorted(counts.items())
            ],
            notes=tuple(notes),
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    async def _sent_emails(self, window: SyncWindow, notes: list[str]) -> AsyncIterator[_Email]:
        """Yield every sent email in the window, halving ranges whose total passes the 10,000 cap."""
        ranges = [(_epoch_ms(window.start), _epoch_ms(window.end))]
        while ranges:
            start_ms, end_ms = ranges.pop()
            first = await self._search(start_ms, end_ms, after=None)
            if first.total > SEARCH_CAP and end_ms - start_ms > 1:
                middle = (start_ms + end_ms) // 2
                # Pushed later half first, so the earlier half is read first.
                ranges.extend([(middle, end_ms), (start_ms, middle)])
                continue
            if first.total > SEARCH_CAP:
                notes.append(f"more than {SEARCH_CAP} emails share one millisecond; counted the first {SEARCH_CAP}")
            page = first
            for _ in range(MAX_PAGES):
                for email in page.results:
                    yield email
                after = page.paging.next.after if page.paging and page.paging.next else None
                if not after or not page.results:
                    break
                if after.isdigit() and int(after) >= SEARCH_CAP:
                    break
                page = await self._search(start_ms, end_ms, after=after)
            else:
                raise SourceResponseError(f"{self._source} still had more pages after {MAX_PAGES}", source=self._source)

    async def _search(self, start_ms: int, end_ms: int, *, after: str | None) -> _SearchPage:
        body: dict[str, object] = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "hs_timestamp", "operator": "GTE", "value": str(start_ms)},
                        {"propertyName": "hs_timestamp", "operator": "LT", "value": str(end_ms)},
                        {"propertyName": "hs_email_direction", "operator": "EQ", "value": "EMAIL"},
                    ]
                }
            ],
            # A stable order, so paging with `after` neither repeats nor skips.
            "sorts": [{"propertyName": "hs_timestamp", "direction": "ASCENDING"}],
            "properties": ["hs_timestamp", "hubspot_owner_id", "hs_email_direction"],
            "limit": SEARCH_PAGE_SIZE,
        }
        if after is not None:
            body["after"] = after
        payload = await self._http.post_json(SEARCH_PATH, json=body)
        return parse_payload(_SEARCH, payload, source=self._source, what=f"POST {SEARCH_PATH}")

    async def _submissions(self, form_id: str, window: SyncWindow) -> AsyncIterator[_Submission]:
        """Yield a form's submissions, newest first, until a page reaches back before the window."""
        path = f"/form-integrations/v1/submissions/forms/{quote(form_id, safe='')}"
        start_ms = _epoch_ms(window.start)
        after: str | None = None
        afters_seen: set[str] = set()
        for _ in range(MAX_PAGES):
            params: dict[str, str | int] = {"limit": FORM_PAGE_SIZE}
            if after is not None:
                params["after"] = after
            payload = await self._http.get_json(path, params=params)
            page = parse_payload(_SUBMISSIONS, payload, source=self._source, what="GET form submissions")
            for submission in page.results:
                yield submission
            after = page.paging.next.after if page.paging and page.paging.next else None
            if not after or not page.results or any(s.submitted_at < start_ms for s in page.results):
                return
            if after in afters_seen:
                raise SourceResponseError(
                    f"{self._source} returned a pagination cursor it had already returned", source=self._source
                )
            afters_seen.add(after)
        raise SourceResponseError(f"{self._source} still had more pages after {MAX_PAGES}", source=self._source)


def _epoch_ms(instant: datetime) -> int:
    """Milliseconds since the epoch, as HubSpot filters take them (exact: no float rounding)."""
    delta = instant.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _from_epoch_ms(ms: int) -> datetime:
    """The instant `ms` milliseconds after the epoch, without float rounding."""
    return _EPOCH + timedelta(milliseconds=ms)


def _parse_timestamp(value: str | None) -> datetime | None:
    """Read `hs_timestamp`: ISO 8601 (`2026-03-07T14:05:11.375Z`) or epoch milliseconds."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return _from_epoch_ms(int(text))
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
