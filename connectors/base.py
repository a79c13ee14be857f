"""The connector contract: what a connector declares and the two calls the daemon makes.

A connector is small: a settings model, the metrics it emits, `check()` (one cheap
authenticated call) and `collect(window, state)` (daily counts for a half-open window).
Pagination, retries, rate limits and redaction live in `connectors.http`.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import ClassVar, Protocol, TypeVar, runtime_checkable
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from connectors.http import HttpObserver, NullObserver
from connectors.settings_types import Duration, check_http_url
from syncd.clock import Clock, SystemClock

__all__ = [
    "MAX_LOOKBACK",
    "MIN_INTERVAL",
    "CollectResult",
    "Connector",
    "ConnectorContext",
    "ConnectorSettings",
    "DailyCount",
    "MetricSpec",
    "SyncWindow",
    "expect_settings",
    "local_day",
]


# Bounds on every source's schedule (see ConnectorSettings' validators for why).
MIN_INTERVAL = timedelta(seconds=1)
MAX_LOOKBACK = timedelta(days=366)


class ConnectorSettings(BaseModel):
    """Settings every connector accepts; a connector subclasses this with its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # A connector whose vendor needs no credential (push, some http_json APIs) sets this False.
    requires_api_key: ClassVar[bool] = True

    connector: str = Field(description="connector type")
    api_key: SecretStr | None = Field(default=None, description="the vendor credential (secret)")
    base_url: str | None = Field(
        default=None, description="replaces the vendor's API root (an http:// or https:// URL)"
    )
    interval: Duration = Field(default=timedelta(minutes=15), description="how often to sync (at least 1s)")
    lookback: Duration = Field(default=timedelta(days=3), description="history re-read every sync (at most 366d)")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        # Connectors build http(s) requests from it: ftp://, file:// or a bare host is a mistake.
        return None if url is None else check_http_url(url)

    @field_validator("interval")
    @classmethod
    def _not_too_often(cls, interval: timedelta) -> timedelta:
        # A near-zero interval hammers the vendor into 429s and gets the key banned.
        if interval < MIN_INTERVAL:
            raise ValueError(f"must be at least {int(MIN_INTERVAL.total_seconds())}s")
        return interval

    @field_validator("lookback")
    @classmethod
    def _bounded_lookback(cls, lookback: timedelta) -> timedelta:
        # Re-read every sync: more than a year is a backfill's job (`syncd backfill --since`).
        if lookback > MAX_LOOKBACK:
            raise ValueError(f"must be at most {MAX_LOOKBACK.days}d (use syncd backfill for older history)")
        return lookback


@dataclass(frozen=True)
class MetricSpec:
    """A metric a connector emits and what its subject is."""

    name: str
    description: str
    subject: str


@dataclass(frozen=True)
class SyncWindow:
    """The half-open instant range `[start, end)` one sync reads, and the zone its days live in.

    `start` is always a local midnight in `timezone`; `end` is fixed before the sync begins
    (the signpost) so nothing that happens during the sync moves it.
    """

    start: datetime
    end: datetime
    timezone: ZoneInfo

    @property
    def first_day(self) -> date:
        return local_day(self.start, self.timezone)

    @property
    def last_day(self) -> date:
        """The local day holding the last instant of the window."""
        return local_day(self.end - timedelta(microseconds=1), self.timezone)

    def contains(self, instant: datetime) -> bool:
        return self.start <= instant < self.end


@dataclass(frozen=True)
class DailyCount:
    """How many events of `metric` for `subject` happened on local `day`."""

    metric: str
    subject: str
    day: date
    value: float


@dataclass(frozen=True)
class CollectResult:
    """A connector's answer for one window.

    `counts` are complete for every day from `complete_from` (default: the window's first day)
    to the window's last day: the store replaces those days' counts, so a day a vendor corrected
    down is corrected here too. A day with no events may be left out. `state` is the connector's
    own cursor, returned to it on the next sync.
    """

    counts: list[DailyCount]
    state: Mapping[str, str] = field(default_factory=dict)
    complete_from: date | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConnectorContext:
    """What the daemon hands a connector besides its settings."""

    source: str  # the source's name in the configuration, used in errors and metrics
    timezone: ZoneInfo  # the zone whose calendar days counts are bucketed into
    clock: Clock = field(default_factory=SystemClock)
    observer: HttpObserver = field(default_factory=NullObserver)
    # One SSL context shared by every source: loading the CA bundle per client is slow.
    ssl_context: ssl.SSLContext | None = None
    # The metrics the configuration's KPIs read from this source (None: not known). A connector may
    # use it to skip a costly report nobody reads; it must still return every metric it always did.
    metrics: frozenset[str] | None = None


@runtime_checkable
class Connector(Protocol):
    """What a connector class provides; instances are made once per source."""

    type_name: ClassVar[str]
    settings_model: ClassVar[type[ConnectorSettings]]
    metrics: ClassVar[tuple[MetricSpec, ...]]
    # The longest history the vendor serves, where it has a limit (X: 30 days).
    history_limit: ClassVar[timedelta | None]

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None: ...

    async def check(self) -> None:
        """Make one cheap authenticated call; raise a SourceError if it fails."""
        ...

    async def collect(self, window: SyncWindow, state: Mapping[str, str]) -> CollectResult:
        """Return the daily counts of every declared metric inside `window`."""
        ...

    async def aclose(self) -> None:
        """Release the connector's HTTP client."""
        ...


SettingsT = TypeVar("SettingsT", bound=ConnectorSettings)


def expect_settings(settings: ConnectorSettings, model: type[SettingsT]) -> SettingsT:
    """Return `settings` as the connector's own settings model, or fail loudly on a wiring mistake."""
    if not isinstance(settings, model):
        raise TypeError(f"expected {model.__name__}, got {type(settings).__name__}")
    return settings


def local_day(instant: datetime, timezone: ZoneInfo) -> date:
    """Return the calendar day that holds `instant` in `timezone`."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime: every instant syncd handles must carry its offset")
    return instant.astimezone(timezone).date()
