"""Mailchimp Marketing API 3.0: new subscribers of one audience (list) per local day.

What this relies on (Mailchimp's marketing API conventions and list-members reference, as
summarised in the reference, and the public `ListMembersFilter` parameter descriptions):
- The API root is `https://<dc>.api.mailchimp.com/3.0`, `dc` being the key's suffix after its
  last `-` (`…-us19` -> `us19`). Auth is HTTP Basic with any user name and the key as password.
- `GET /lists/{list_id}/members?status=subscribed&since_timestamp_opt=…&before_timestamp_opt=…
  &count=1000&offset=N&fields=total_items,members.id,members.timestamp_opt` answers
  `{members: [{id, timestamp_opt}], total_items}`; `count` is at most 1000 and `total_items` is
  the size of the whole filtered collection, so paging stops once `offset` reaches it.
  `timestamp_opt` is ISO 8601 with an offset (`2015-10-21T15:41:36+00:00`); members imported
  without an opt-in time carry an empty string, and cannot be placed on a day.
- Limits: at most 10 simultaneous connections per key, no rate-limit headers, 429 over it. This
  connector sends one request at a time and paces itself well inside that.
- Errors are `application/problem+json`: `{type, title, status, detail, instance}`; a key used
  on another data centre is answered 401 ("API Key Invalid"), an unknown list 404.

Decisions:
- "New subscribers" counts members whose status is `subscribed` now, by `timestamp_opt`, the
  moment they confirmed their opt-in (`total_items` alone cannot split a window into days).
- Whether `since_`/`before_timestamp_opt` are inclusive is not documented: one second is added
  either side (the field has second precision) and the exact half-open window is applied here.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import ClassVar
from urllib.parse import quote

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    field_validator,
    model_validator,
)

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
from connectors.http import HttpPolicy, RateLimit, SourceHttpClient, basic_auth_value, parse_payload
from connectors.pagination import require_total
from syncd.errors import SourceAuthError, SourceRequestError, SourceResponseError

__all__ = ["MailchimpConnector", "MailchimpSettings", "data_centre"]

API_ROOT = "https://{dc}.api.mailchimp.com/3.0"
PAGE_SIZE = 1000  # the most Mailchimp serves per page
# Mailchimp limits simultaneous connections (10), not a rate; requests here are sequential, and
# this proactive pace keeps a long backfill polite as well.
RATE_LIMIT = RateLimit(requests=10, per_seconds=1.0)
METRIC = "new_subscribers"
MEMBER_FIELDS = "total_items,members.id,members.timestamp_opt"
MAX_PAGES = 10_000
_DATA_CENTRE = re.compile(r"^[a-z]+[0-9]+$")


def data_centre(api_key: str) -> str | None:
    """Return the data centre a Mailchimp key names after its last `-` (`us19`), or None."""
    _, sep, suffix = api_key.rpartition("-")
    return suffix if sep and _DATA_CENTRE.match(suffix) else None


class MailchimpSettings(ConnectorSettings):
    """A Mailchimp audience: the API key (ending in its data centre) and the audience's list id."""

    model_config = ConfigDict(coerce_numbers_to_str=True)

    api_key: SecretStr = Field(description="the Mailchimp API key, e.g. 0123…-us19 (secret)")
    list_id: str = Field(description="the audience (list) id, e.g. a1b2c3d4e5")

    @field_validator("list_id")
    @classmethod
    def _list_id_present(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("list_id must not be empty")
        return value.strip()

    @model_validator(mode="after")
    def _root_is_known(self) -> MailchimpSettings:
        if self.base_url is None and data_centre(self.api_key.get_secret_value()) is None:
            raise ValueError(
                "the api_key does not end in a data centre (like -us19), so the API root is unknown: "
                "use the full key from Mailchimp's API keys page, or set base_url"
            )
        return self


class _Member(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    timestamp_opt: AwareDatetime | None = None

    @field_validator("timestamp_opt", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        # Members imported without an opt-in time carry "" rather than null.
        return None if value == "" else value


class _MembersPage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    members: list[_Member]
    total_items: int


_PAGE = TypeAdapter(_MembersPage)


class MailchimpConnector:
    """Counts an audience's subscribed members by the local day they opted in."""

    type_name: ClassVar[str] = "mailchimp"
    settings_model: ClassVar[type[ConnectorSettings]] = MailchimpSettings
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec(METRIC, "Members who opted in to the Mailchimp audience", subject="the list id"),
    )
    history_limit: ClassVar[timedelta | None] = None

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        settings = expect_settings(settings, MailchimpSettings)
        self._settings = settings
        self._source = context.source
        key = settings.api_key.get_secret_value()
        self._dc = data_centre(key)
        authorization = basic_auth_value("syncd", key)
        self._http = SourceHttpClient(
            context=context,
            base_url=settings.base_url or API_ROOT.format(dc=self._dc),
            headers={"Authorization": authorization, "Accept": "application/json"},
            policy=HttpPolicy(rate_limit=RATE_LIMIT),
            secrets=(key, authorization.removeprefix("Basic ")),
        )

    async def check(self) -> None:
        """Read the audience's id and name: proves the key, its data centre and the list id."""
        path = f"/lists/{quote(self._settings.list_id, safe='')}"
        await self._call(path, {"fields": "id,name"})

    async def collect(self, window: SyncWindow, state: Mapping[str, str]) -> CollectResult:
        """Count members who opted in on each local day of `window`."""
        per_day: Counter[date] = Counter()
        seen: set[str] = set()
        if window.end > window.start:
            async for member in self._members(window):
                if member.id is not None:
                    if member.id in seen:
                        continue
                    seen.add(member.id)
                if member.timestamp_opt is not None and window.contains(member.timestamp_opt):
                    per_day[local_day(member.timestamp_opt, window.timezone)] += 1
        subject = self._settings.list_id
        return CollectResult(
            counts=[
                DailyCount(metric=METRIC, subject=subject, day=day, value=float(value))
                for day, value in sorted(per_day.items())
            ]
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    async def _members(self, window: SyncWindow) -> AsyncIterator[_Member]:
        path = f"/lists/{quote(self._settings.list_id, safe='')}/members"
        base_params = {
            "status": "subscribed",
            "since_timestamp_opt": _iso(window.start - timedelta(seconds=1)),
            "before_timestamp_opt": _iso(window.end + timedelta(seconds=1)),
            "count": str(PAGE_SIZE),
            "fields": MEMBER_FIELDS,
        }
        offset = 0
        for _ in range(MAX_PAGES):
            payload = await self._call(path, {**base_params, "offset": str(offset)})
            page = parse_payload(_PAGE, payload, source=self._source, what=f"GET {path}")
            for member in page.members:
                yield member
            offset += len(page.members)
            if offset >= page.total_items:
                return
            if len(page.members) < PAGE_SIZE:
                # A short or empty page before the announced total is a truncated answer, not the end.
                require_total(offset, page.total_items, source=self._source, what=f"GET {path}")
        raise SourceResponseError(
            f"{self._source}: Mailchimp still had members after {MAX_PAGES} pages", source=self._source
        )

    async def _call(self, path: str, params: Mapping[str, str]) -> object:
        """GET `path`, explaining a 401 or 404 in Mailchimp's terms (a key on the wrong data centre)."""
        try:
            return await self._http.get_json(path, params=params)
        except SourceAuthError as exc:
            hint = (
                f"check the key, and that its data centre ({self._dc}) is the account's"
                if self._dc
                else "check the key"
            )
            raise SourceAuthError(f"{exc}: {hint}", source=self._source, status_code=exc.status_code) from None
        except SourceRequestError as exc:
            if exc.status_code != 404:
                raise
            raise SourceRequestError(
                f"{exc}: no audience {self._settings.list_id!r} here; check list_id "
                f"(Audience > Settings > Audience name and defaults) and the key's data centre",
                source=self._source,
                status_code=404,
            ) from None


def _iso(instant: datetime) -> str:
    """Format an instant as Mailchimp recommends: `2015-10-21T15:41:36+00:00`."""
    return instant.astimezone(UTC).replace(microsecond=0).isoformat()
