"""Next period's targets per person and funnel step, from this period's volumes and ratios (pure).

The domino step (the one that drives the rest) gets this period's volume, projected to a full period
and scaled to the planned period's length, raised by the uplift; every later step follows from it at
the person's own conversion (the stage's benchmark where the person has none yet), and every earlier
step is what it takes upstream to feed the domino at the same ratios.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from syncd.engine.periods import Period
from syncd.engine.snapshot import FunnelStage
from syncd.model import Funnel

__all__ = ["StepPlan", "plan_funnel"]


@dataclass(frozen=True)
class StepPlan:
    """One person's figures for one funnel step: so far, projected to the period's end, proposed."""

    owner: str
    team: str
    step: str
    so_far: float
    projected: float
    target: float | None


def plan_funnel(
    funnel: Funnel,
    stages: Sequence[FunnelStage],
    *,
    elapsed: float,
    current: Period,
    planned: Period,
    uplift: float,
) -> list[StepPlan]:
    """Return every owner's plan, step by step in funnel order.

    `elapsed` is the fraction of `current` gone (0..1]; volumes so far are projected by it.
    """
    scale = len(planned.days()) / len(current.days())
    by_owner: dict[str, list[FunnelStage]] = {}
    for stage in stages:
        if stage.funnel == funnel.name:
            by_owner.setdefault(stage.owner, []).append(stage)
    domino = funnel.steps.index(funnel.domino)
    plans: list[StepPlan] = []
    for owner, owned in by_owner.items():
        volumes = [owned[0].from_value, *(stage.to_value for stage in owned)]
        ratios = [_ratio(stage) for stage in owned]
        projected = [volume / elapsed if elapsed > 0 else volume for volume in volumes]
        targets: list[float | None] = [None] * len(volumes)
        targets[domino] = projected[domino] * scale * (1 + uplift)
        for index in range(domino, len(ratios)):
            before, ratio = targets[index], ratios[index]
            targets[index + 1] = None if before is None or ratio is None else before * ratio
        for index in range(domino - 1, -1, -1):
            after, ratio = targets[index + 1], ratios[index]
            targets[index] = None if after is None or not ratio else after / ratio
        plans.extend(
            StepPlan(owner, owned[0].team, step, volumes[i], projected[i], targets[i])
            for i, step in enumerate(funnel.steps)
        )
    return plans


def _ratio(stage: FunnelStage) -> float | None:
    # A person with no conversion yet plans at the stage's benchmark, the team's best.
    return stage.ratio if stage.ratio is not None else stage.benchmark_ratio
