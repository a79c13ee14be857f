"""The raw configuration as written in YAML, validated by pydantic (step one of two).

`syncd.config` turns a valid `RawConfig` into the frozen `syncd.model.Config` after the checks
that need the whole file (references between people, teams, sources, KPIs and goals).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from connectors.settings_types import Duration, parse_duration

__all__ = [
    "WEEKDAYS",
    "RawConfig",
    "RawFunnel",
    "RawGoal",
    "RawKpi",
    "RawPerson",
    "RawPersonalGoal",
    "RawRetention",
    "RawTeam",
]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_WEEKDAY_ALIASES = {name[:3]: name for name in WEEKDAYS}
_MONTH_ALIASES = {name[:3]: name for name in MONTHS}


def _zone_name(value: object) -> str:
    name = str(value)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/London)") from None
    return name


def _weekday_name(value: object) -> str:
    name = str(value).strip().lower()
    name = _WEEKDAY_ALIASES.get(name, name)
    if name not in WEEKDAYS:
        raise ValueError(f"unknown weekday {value!r} (use monday ... sunday)")
    return name


def _identity_values(value: object) -> tuple[str, ...]:
    # YAML reads an unquoted numeric user id as an int; an id is text.
    items = list(value) if isinstance(value, list | tuple) else [value]
    out: list[str] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, str | int):
            raise ValueError(f"an identity must be text, got {item!r}")
        text = str(item).strip()
        if not text:
            raise ValueError("an identity must not be empty")
        out.append(text)
    return tuple(out)


ZoneName = Annotated[str, BeforeValidator(_zone_name)]
WeekdayName = Annotated[str, BeforeValidator(_weekday_name)]
IdentityValues = Annotated[tuple[str, ...], BeforeValidator(_identity_values)]
PositiveNumber = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Name = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.@-]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RawTeam(_Strict):
    head: str | None = None


class RawPersonalGoal(_Strict):
    text: Annotated[str, Field(min_length=1, max_length=500)]
    by: date | None = None
    kpis: list[str] = Field(default_factory=list)


class RawPerson(_Strict):
    team: str | None = None
    identities: dict[str, IdentityValues] = Field(default_factory=dict)
    personal_goals: list[RawPersonalGoal] = Field(default_factory=list)


def _source_names(value: object) -> tuple[str, ...]:
    items = list(value) if isinstance(value, list | tuple) else [value]
    if not items:
        raise ValueError("name at least one source")
    names = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"a source is named by text, got {item!r}")
        names.append(item.strip())
    if len(set(names)) != len(names):
        raise ValueError("a source is listed twice")
    return tuple(names)


SourceNames = Annotated[tuple[str, ...], BeforeValidator(_source_names)]


class RawKpi(_Strict):
    source: SourceNames
    metric: str
    description: str = ""
    per_person: bool = False
    unit: str = ""
    kind: Literal["flow", "stock"] = "flow"


class RawCustomPeriod(_Strict):
    start: date
    end: date


class RawWeights(_Strict):
    weights: dict[str, Annotated[float, Field(ge=0, allow_inf_nan=False)]]

    @field_validator("weights")
    @classmethod
    def _known_names(cls, weights: dict[str, float]) -> dict[str, float]:
        unknown = [
            key
            for key in weights
            if key.lower() not in WEEKDAYS
            and key.lower() not in MONTHS
            and key.lower() not in _WEEKDAY_ALIASES
            and key.lower() not in _MONTH_ALIASES
        ]
        if unknown:
            raise ValueError(f"unknown weight key(s) {', '.join(map(repr, unknown))}: use weekday or month names")
        return weights


PeriodName = Literal["week", "fortnight", "month", "quarter", "year"]
CheckinName = Literal["week", "fortnight", "month"]


class RawGoal(_Strict):
    kpi: str
    owner: str
    period: PeriodName | RawCustomPeriod
    target: PositiveNumber | None = None
    committed: PositiveNumber | None = None
    stretch: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    pacing: Literal["linear", "business_days", "history"] | RawWeights = "linear"
    checkins: CheckinName | list[CheckinName] | None = None
    tolerance: Annotated[float, Field(ge=0, lt=1)] = 0.10
    baseline: Annotated[float, Field(allow_inf_nan=False)] | None = None
    direction: Literal["at_least", "at_most"] = "at_least"


class RawFunnel(_Strict):
    steps: Annotated[list[str], Field(min_length=2)]
    period: PeriodName | RawCustomPeriod = "month"
    min_volume: Annotated[int, Field(ge=0)] = 10
    domino: str | None = None
    uplift: Annotated[float, Field(gt=0, le=10, allow_inf_nan=False)] = 0.10


# A retention age written as zero (`0`, `0d`) keeps rows forever, like `never`.
_ZERO_DURATION = re.compile(r"^\s*0+(?:\.0*)?\s*[smhd]?\s*$")
# Below a day, a client retrying a push the same afternoon could add its count twice.
MIN_RETENTION = timedelta(days=1)


def _retention_age(value: object) -> timedelta | None:
    if isinstance(value, str) and value.strip().lower() == "never":
        return None
    if (isinstance(value, int | float) and not isinstance(value, bool) and value == 0) or (
        isinstance(value, str) and _ZERO_DURATION.match(value)
    ):
        return None
    if value is None:
        raise ValueError("give an age such as 30d, or never")
    try:
        age = parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"{exc}, or never to keep forever") from None
    if age < MIN_RETENTION:
        raise ValueError(f"keep rows at least 1d, got {value!r} (or never to keep forever)")
    return age


# How long rows that serve only for a while are kept; None: forever.
RetentionAge = Annotated[timedelta | None, BeforeValidator(_retention_age)]


class RawRetention(_Strict):
    push_receipts: RetentionAge = timedelta(days=30)
    goal_versions: RetentionAge = timedelta(days=365)


class RawConfig(BaseSettings):
    """The whole file; `SYNCD_*` environment variables override its top-level keys."""

    model_config = SettingsConfigDict(env_prefix="SYNCD_", extra="forbid", frozen=True, env_nested_delimiter="__")

    timezone: ZoneName = "UTC"
    week_start: WeekdayName = "monday"
    fortnight_anchor: date = date(2024, 1, 1)
    holidays: list[date] = Field(default_factory=list)
    database_url: str = "sqlite:///syncd.db"
    listen: str = "127.0.0.1:9464"
    web_config_file: str | None = None
    auto_backfill: bool = True
    grafana_url: Annotated[str, Field(pattern=r"^https?://\S+$")] | None = None
    lease: Duration = timedelta(seconds=20)
    shard: str | None = None
    retention: RawRetention = Field(default_factory=RawRetention)
    teams: dict[Name, RawTeam] = Field(default_factory=dict)
    people: dict[Name, RawPerson] = Field(default_factory=dict)
    # Each source is validated against its connector's own settings model in syncd.config.
    sources: dict[Name, dict[str, Any]] = Field(default_factory=dict)
    kpis: dict[Name, RawKpi] = Field(default_factory=dict)
    goals: list[RawGoal] = Field(default_factory=list)
    funnels: dict[Name, RawFunnel] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Let the environment override what the YAML file (passed as init values) says."""
        return (env_settings, init_settings)
