"""The immutable state the collector, the status page and the API read.

A new Snapshot is built after each sync and on a timer (pace moves with time), then swapped in
with one assignment; readers never see half of an update and never touch the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Literal

from syncd.engine.checkin_results import CheckinResult, group_by_goal
from syncd.engine.pace import PaceFigures
from syncd.engine.trail import GoalTrail
from syncd.model import Config

__all__ = [
    "FUNNEL_SCENARIOS",
    "CheckpointStatus",
    "FunnelOutcome",
    "FunnelStage",
    "GoalStatus",
    "Snapshot",
    "SnapshotHolder",
    "SourceStatus",
    "funnels_json",
]

Status = Literal["achieved", "ahead", "on_pace", "behind"]
STATUSES: tuple[Status, ...] = ("achieved", "ahead", "on_pace", "behind")


@dataclass(frozen=True)
class CheckpointStatus:
    """The current check-in of a goal at one level: its id, target and value so far."""

    id: str
    target: float
    value: float
    level: str = ""

    def as_json(self) -> dict[str, object]:
        """Return the check-in as `status --format json` prints it in `checkpoints`."""
        return {"level": self.level, "id": self.id, "target": self.target, "value": self.value}


@dataclass(frozen=True)
class GoalStatus:
    """One goal's figures at one instant."""

    kpi: str
    source: str
    owner: str
    team: str
    period: str
    start: datetime
    deadline: datetime
    value: float
    target: float
    committed: float | None
    figures: PaceFigures
    hit_probability: float | None = None
    checkpoint: CheckpointStatus | None = None  # the finest level's current check-in
    notes: tuple[str, ...] = ()
    # For people (status page): what the KPI is, and the period's path so far against the curve.
    unit: str = ""
    description: str = ""
    trail: GoalTrail | None = None
    checkpoints: tuple[CheckpointStatus, ...] = ()  # every level's current check-in, coarsest first
    goal_key: str = ""  # kpi|owner|period spec: ties stored check-in results to this goal
    # False while the daemon is still backfilling days the goal's value (or pacing curve) needs.
    data_complete: bool = True

    @property
    def status(self) -> Status:
        return self.figures.status

    def at_instant(self, figures: PaceFigures, hit_probability: float | None) -> GoalStatus:
        """Return this status with another instant's figures and forecast, every other field shared.

        `dataclasses.replace` without re-running the initialiser: a tick makes one per goal, and
        the copy costs a tenth of it (the fields are the same objects, so nothing is validated twice).
        """
        new = object.__new__(GoalStatus)
        # A copy of the instance dict keeps its shared keys (a split table copied as one block),
        # faster than filling the new instance's dict key by key.
        fields = self.__dict__.copy()
        fields["figures"] = figures
        fields["hit_probability"] = hit_probability
        object.__setattr__(new, "__dict__", fields)  # a frozen dataclass refuses `new.__dict__ = ...`
        return new

    def as_json(self) -> dict[str, object]:
        """Return the object `syncd status --format json` and /api/v1/goals print (CONTRACT §2)."""
        f = self.figures
        return {
            "kpi": self.kpi,
            "owner": self.owner,
            "team": self.team,
            "period": self.period,
            "start": self.start.isoformat(),
            "deadline": self.deadline.isoformat(),
            "value": self.value,
            "target": self.target,
            "committed": self.committed,
            "expected": f.expected,
            "pace_ratio": f.pace_ratio,
            "progress_ratio": f.progress_ratio,
            "elapsed_ratio": f.elapsed_ratio,
            "projected": f.projected,
            "required_daily_rate": f.required_daily_rate,
            "buffer_days": f.buffer_days,
            "hit_probability": self.hit_probability,
            "status": f.status,
            "checkpoint": (
                None
                if self.checkpoint is None
                else {
                    "id": self.checkpoint.id,
                    "target": self.checkpoint.target,
                    "value": self.checkpoint.value,
                }
            ),
            "checkpoints": [checkpoint.as_json() for checkpoint in self.checkpoints],
        }


# What a funnel's last step would be: now, and under the what-ifs of syncd.engine.funnel_outcomes.
FUNNEL_SCENARIOS = ("current", "domino_uplift", "ratio_uplift", "benchmark")


@dataclass(frozen=True)
class FunnelStage:
    """One owner's conversion from one funnel step to the next, with the stage's benchmark."""

    funnel: str
    from_step: str
    to_step: str
    owner: str
    team: str
    period: str
    from_value: float
    to_value: float
    ratio: float | None
    benchmark_ratio: float | None = None
    benchmark_owner: str | None = None

    def as_json(self) -> dict[str, object]:
        """Return the stage as the API's JSON object, ratios rounded for people."""
        return {
            "from_step": self.from_step,
            "to_step": self.to_step,
            "owner": self.owner,
            "team": self.team,
            "from_value": self.from_value,
            "to_value": self.to_value,
            "ratio": None if self.ratio is None else round(self.ratio, 4),
            "benchmark_ratio": None if self.benchmark_ratio is None else round(self.benchmark_ratio, 4),
            "benchmark_owner": self.benchmark_owner,
        }


@dataclass(frozen=True)
class FunnelOutcome:
    """An owner's (or team's) last-step volume now and under each what-if."""

    funnel: str
    owner: str
    team: str
    period: str
    domino: str
    uplift: float
    current: float
    domino_uplift: float
    ratio_uplift: float
    benchmark: float

    def as_json(self) -> dict[str, object]:
        """Return the outcome as the API's JSON object, figures rounded for people."""
        return {
            "funnel": self.funnel,
            "owner": self.owner,
            "team": self.team,
            "period": self.period,
            "domino": self.domino,
            "uplift": self.uplift,
            **{name: round(self.scenario(name), 2) for name in FUNNEL_SCENARIOS},
        }

    def scenario(self, name: str) -> float:
        """Return the figure of one of SCENARIOS."""
        return float(getattr(self, name))


@dataclass(frozen=True)
class PersonalGoalStatus:
    """A person's own goal, carried beside their KPI goals (page, API, alert descriptions)."""

    owner: str
    team: str
    text: str
    by: str  # ISO date, or "" when it has none
    kpis: tuple[str, ...]


@dataclass(frozen=True)
class SourceStatus:
    """What the daemon knows about one source's syncs."""

    name: str
    connector: str
    interval_seconds: float | None  # None: a push source that expects nothing in particular
    up: bool | None = None  # None until the first sync finishes
    last_success: datetime | None = None
    last_error: str | None = None
    syncs_total: int = 0
    failures: Mapping[str, int] = field(default_factory=dict)  # reason -> count
    http_requests: Mapping[str, int] = field(default_factory=dict)  # status code -> count
    rate_limit_remaining: float | None = None
    duration_buckets: tuple[tuple[float, int], ...] = ()  # cumulative (le, count)
    duration_sum: float = 0.0
    duration_count: int = 0
    pulled: bool = True  # False: a push source, up while pushes are accepted
    suspect_reads_total: int = 0  # reads held because they would have lowered stored counts


@dataclass(frozen=True)
class ReloadStatus:
    """How the last configuration reload went; the start counts as a successful load."""

    successful: bool
    last_success: datetime


@dataclass(frozen=True)
class Snapshot:
    """Everything exposed at one instant."""

    generated_at: datetime
    goals: tuple[GoalStatus, ...] = ()
    sources: tuple[SourceStatus, ...] = ()
    funnels: tuple[FunnelStage, ...] = ()
    funnel_outcomes: tuple[FunnelOutcome, ...] = ()
    personal_goals: tuple[PersonalGoalStatus, ...] = ()
    ready: bool = False
    config_reload: ReloadStatus | None = None
    checkins: tuple[CheckinResult, ...] = ()  # finished check-ins, as last judged and stored
    # Source name -> days of history the daemon still has to backfill for the goals.
    backfill_remaining_days: Mapping[str, int] = field(default_factory=dict)
    # Table name -> rows the retention job deleted since the process started.
    pruned_rows: Mapping[str, int] = field(default_factory=dict)

    @cached_property
    def checkins_by_goal(self) -> Mapping[str, tuple[CheckinResult, ...]]:
        """Return `checkins` grouped by goal key, grouped once per snapshot on first read.

        A scrape, the status page and the API each ask for every goal's results: scanning all of
        them per goal made 10,000 goals cost seconds. Each snapshot keeps its own grouping (a
        replaced snapshot is a new object), so no reader sees another snapshot's results.
        """
        return group_by_goal(self.checkins)


class SnapshotHolder:
    """Hold the current snapshot; `swap` replaces it for every reader at once.

    One attribute assignment is atomic, so readers (the collector in a worker thread) need no lock:
    they take `current` once and read everything from that one snapshot.
    """

    def __init__(self, initial: Snapshot) -> None:
        self._current = initial

    @property
    def current(self) -> Snapshot:
        return self._current

    def swap(self, snapshot: Snapshot) -> None:
        current = self._current
        grouped = current.__dict__.get("checkins_by_goal")
        if (
            grouped is not None
            and snapshot.checkins is current.checkins
            and "checkins_by_goal" not in snapshot.__dict__
        ):
            # The same results (every tick and refresh publishes the same tuple): the same grouping,
            # not another 60 ms regrouping 50,000 results on the next scrape.
            snapshot.__dict__["checkins_by_goal"] = grouped
        self._current = snapshot


def funnels_json(snapshot: Snapshot) -> list[dict[str, object]]:
    """Return every funnel's stages and outcomes, one object per funnel (GET /api/v1/funnels)."""
    names = list(dict.fromkeys([s.funnel for s in snapshot.funnels] + [o.funnel for o in snapshot.funnel_outcomes]))
    out: list[dict[str, object]] = []
    for name in names:
        stages = [s for s in snapshot.funnels if s.funnel == name]
        outcomes = [o for o in snapshot.funnel_outcomes if o.funnel == name]
        out.append(
            {
                "funnel": name,
                "period": (stages or outcomes)[0].period,
                "domino": outcomes[0].domino if outcomes else None,
                "uplift": outcomes[0].uplift if outcomes else None,
                "stages": [stage.as_json() for stage in stages],
                "outcomes": [outcome.as_json() for outcome in outcomes],
            }
        )
    return out


def personal_goals_of(config: Config) -> tuple[PersonalGoalStatus, ...]:
    """Return every person's own goals, in configuration order."""
    return tuple(
        PersonalGoalStatus(
            owner=person.name,
            team=config.team_of(person.name),
            text=own.text,
            by=own.by.isoformat() if own.by else "",
            kpis=own.kpis,
        )
        for person in config.people.values()
        for own in person.personal_goals
    )
