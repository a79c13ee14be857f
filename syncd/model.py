"""The domain: who owns which KPI, with what goal, read from which source.

These are the frozen runtime values the rest of the code trusts; `syncd.config` builds them
from the YAML after validating it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from typing import Literal
from zoneinfo import ZoneInfo

from connectors.base import ConnectorSettings
from syncd.sharding import Shard

__all__ = [
    "Config",
    "CustomWeightsSpec",
    "FixedPeriodSpec",
    "Funnel",
    "Goal",
    "Kpi",
    "PacingSpec",
    "PeriodSpec",
    "Person",
    "RecurringPeriodSpec",
    "Retention",
    "Source",
    "Team",
]

PeriodKind = Literal["week", "fortnight", "month", "quarter", "year"]
CheckinKind = Literal["week", "fortnight", "month"]
KpiKind = Literal["flow", "stock"]
Direction = Literal["at_least", "at_most"]


@dataclass(frozen=True)
class Team:
    name: str
    head: str | None = None


@dataclass(frozen=True)
class PersonalGoal:
    """What a person works towards for themselves ("family holiday in June when the Q2 bonus is hit")."""

    text: str
    by: date | None = None
    kpis: tuple[str, ...] = ()


@dataclass(frozen=True)
class Person:
    name: str
    team: str | None
    # source name -> how this person appears in it (an email, a user id); several are allowed
    identities: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    personal_goals: tuple[PersonalGoal, ...] = ()


@dataclass(frozen=True)
class Source:
    name: str
    connector: str
    settings: ConnectorSettings

    @property
    def interval_seconds(self) -> float:
        return self.settings.interval.total_seconds()


# The `source` label of a KPI over several sources (CONTRACT §7): `x_alice+x_carol`.
SOURCE_JOIN = "+"


@dataclass(frozen=True)
class Kpi:
    """A metric read from one or several sources (CONTRACT §7), owned per person or as a whole.

    `source` is the label goal series carry: the source names joined with `+` in configuration
    order; `sources` are the names themselves (one for most KPIs).
    """

    name: str
    source: str
    metric: str
    description: str = ""
    per_person: bool = False
    unit: str = ""
    kind: KpiKind = "flow"
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.sources:
            object.__setattr__(self, "sources", tuple(self.source.split(SOURCE_JOIN)))

    @property
    def count_keys(self) -> tuple[tuple[str, str], ...]:
        """Return the (source, metric) keys of the stored counts this KPI sums."""
        return tuple((source, self.metric) for source in self.sources)

    def reads(self, source: str) -> bool:
        """Return whether `source` is one of the KPI's sources."""
        return source in self.sources


@dataclass(frozen=True)
class RecurringPeriodSpec:
    kind: PeriodKind


@dataclass(frozen=True)
class FixedPeriodSpec:
    first_day: date
    last_day: date  # included


PeriodSpec = RecurringPeriodSpec | FixedPeriodSpec


@dataclass(frozen=True)
class CustomWeightsSpec:
    weekday: Mapping[int, float]  # 0 = Monday
    month: Mapping[int, float]  # 1 = January


PacingSpec = Literal["linear", "business_days", "history"] | CustomWeightsSpec


@dataclass(frozen=True)
class Goal:
    kpi: str
    owner: str
    period: PeriodSpec
    target: float
    committed: float | None = None
    stretch: float | None = None
    pacing: PacingSpec = "linear"
    # Check-in levels, coarsest first (CONTRACT §7); empty when the goal has none.
    checkins: tuple[CheckinKind, ...] = ()
    tolerance: float = 0.10
    baseline: float | None = None
    direction: Direction = "at_least"

    @property
    def key(self) -> tuple[str, str, str]:
        """Identify the goal: one goal per KPI, owner and period."""
        return (self.kpi, self.owner, _period_key(self.period))


def _period_key(period: PeriodSpec) -> str:
    if isinstance(period, RecurringPeriodSpec):
        return period.kind
    return f"{period.first_day.isoformat()}..{period.last_day.isoformat()}"


@dataclass(frozen=True)
class Funnel:
    name: str
    steps: tuple[str, ...]
    period: PeriodSpec
    min_volume: int = 10
    # The step that drives the rest (the first unless named), and the growth the what-ifs assume.
    domino: str = ""
    uplift: float = 0.10

    def __post_init__(self) -> None:
        if not self.domino and self.steps:
            object.__setattr__(self, "domino", self.steps[0])


@dataclass(frozen=True)
class Retention:
    """How long rows that serve only for a while are kept (syncd.run.retention); None keeps them forever.

    Daily counts are never pruned: they are the data.
    """

    # An `add` is applied once per idempotency key within this age of its first use.
    push_receipts: timedelta | None = timedelta(days=30)
    # Counted from when a version was replaced; the version in force is never pruned.
    goal_versions: timedelta | None = timedelta(days=365)


@dataclass(frozen=True)
class Config:
    """A validated configuration."""

    file: str
    timezone: ZoneInfo
    week_start: int  # 0 = Monday
    fortnight_anchor: date
    holidays: frozenset[date]
    database_url: str
    listen_host: str
    listen_port: int
    web_config_file: str | None
    teams: Mapping[str, Team]
    people: Mapping[str, Person]
    sources: Mapping[str, Source]
    kpis: Mapping[str, Kpi]
    goals: tuple[Goal, ...]
    funnels: Mapping[str, Funnel]
    grafana_url: str | None = None  # where the status page links each goal's panel
    auto_backfill: bool = True  # fetch the history goals need in the background
    # Replicas on PostgreSQL: how long a source lease lasts without renewal (syncd.run.leases).
    lease_seconds: float = 20.0
    # This process's share of the goals (syncd.sharding); None: every goal.
    shard: Shard | None = None
    retention: Retention = field(default_factory=Retention)

    def kpis_reading(self, source: str) -> tuple[Kpi, ...]:
        """Return the KPIs that read `source`, in configuration order.

        Indexed once per configuration: every sync asks, and scanning every KPI per sync made a
        round of 1,000 sources cost a million checks.
        """
        return self._kpis_by_source.get(source, ())

    @cached_property
    def _kpis_by_source(self) -> Mapping[str, tuple[Kpi, ...]]:
        index: dict[str, list[Kpi]] = {}
        for kpi in self.kpis.values():
            for source in dict.fromkeys(kpi.sources):
                index.setdefault(source, []).append(kpi)
        return {source: tuple(kpis) for source, kpis in index.items()}

    def team_of(self, owner: str) -> str:
        """Return the owner's team label: a person's team, a team's own name."""
        if owner in self.teams:
            return owner
        person = self.people.get(owner)
        return (person.team or "") if person else ""

    def members_of(self, team: str) -> tuple[str, ...]:
        """Return the people of a team, in configuration order."""
        return tuple(p.name for p in self.people.values() if p.team == team)
