"""What a funnel would deliver at its last step: now, and under three what-ifs (pure).

For each owner with stage volumes v0 -> v1 -> ... -> vn and ratios r_i = v(i+1) / v(i):
- `domino_uplift`: the domino step's volume grows by X and every later ratio holds, so the last
  step grows by X too (the domino is what drives the rest);
- `ratio_uplift`: every stage converts X better, compounded: vn × (1 + X)^n;
- `benchmark`: the owner converts at each stage's benchmark (the team's best): v0 × Π b_i, an own
  ratio standing in where a stage has no benchmark.
A team row sums its members.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from syncd.engine.snapshot import FunnelOutcome, FunnelStage
from syncd.model import Config, Funnel

__all__ = ["FunnelOutcome", "funnel_outcomes", "outcomes_of"]


def funnel_outcomes(funnel: Funnel, stages: Sequence[FunnelStage]) -> list[FunnelOutcome]:
    """Return each owner's outcomes, then each team's (the sum of its members), for one funnel."""
    by_owner: dict[str, list[FunnelStage]] = {}
    for stage in stages:
        if stage.funnel == funnel.name:
            by_owner.setdefault(stage.owner, []).append(stage)
    people = [_owner_outcome(funnel, owned) for owned in by_owner.values() if owned]
    teams: dict[str, list[FunnelOutcome]] = {}
    for outcome in people:
        teams.setdefault(outcome.team, []).append(outcome)
    totals = [
        FunnelOutcome(
            funnel=funnel.name,
            owner=team,
            team=team,
            period=members[0].period,
            domino=funnel.domino,
            uplift=funnel.uplift,
            current=sum(m.current for m in members),
            domino_uplift=sum(m.domino_uplift for m in members),
            ratio_uplift=sum(m.ratio_uplift for m in members),
            benchmark=sum(m.benchmark for m in members),
        )
        for team, members in teams.items()
        if team and team not in by_owner
    ]
    return people + totals


def _owner_outcome(funnel: Funnel, owned: list[FunnelStage]) -> FunnelOutcome:
    first, last = owned[0], owned[-1]
    now = last.to_value
    at_benchmark = first.from_value
    for stage in owned:
        ratio = stage.benchmark_ratio if stage.benchmark_ratio is not None else stage.ratio
        at_benchmark *= ratio if ratio is not None else 0.0
    return FunnelOutcome(
        funnel=funnel.name,
        owner=first.owner,
        team=first.team,
        period=first.period,
        domino=funnel.domino,
        uplift=funnel.uplift,
        current=now,
        domino_uplift=now * (1 + funnel.uplift),
        ratio_uplift=now * (1 + funnel.uplift) ** len(owned),
        benchmark=at_benchmark,
    )


def outcomes_of(config: Config, stages: Iterable[FunnelStage]) -> tuple[FunnelOutcome, ...]:
    """Return the outcomes of every configured funnel."""
    staged = list(stages)
    return tuple(outcome for funnel in config.funnels.values() for outcome in funnel_outcomes(funnel, staged))
