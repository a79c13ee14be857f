"""Funnel conversion per owner and stage, and the best performer per stage as the benchmark."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from syncd.engine.evaluate import DailyCounts, flow_value, kpi_counts, owner_subjects, period_at
from syncd.engine.snapshot import FunnelStage
from syncd.model import Config, Funnel

__all__ = ["evaluate_funnel", "evaluate_funnels"]


def funnel_owners(config: Config, funnel: Funnel) -> list[str]:
    """Return the people with an identity in every per-person step's source."""
    owners: list[str] = []
    for person in config.people.values():
        kpis = [config.kpis[step] for step in funnel.steps]
        if all(not kpi.per_person or any(s in person.identities for s in kpi.sources) for kpi in kpis) and any(
            kpi.per_person for kpi in kpis
        ):
            owners.append(person.name)
    return owners


def evaluate_funnel(config: Config, funnel: Funnel, counts: DailyCounts, instant: datetime) -> list[FunnelStage]:
    """Return every owner's stage conversions for the period holding `instant`, with benchmarks."""
    period = period_at(config, funnel.period, instant)
    today = instant.astimezone(config.timezone).date()
    through = min(today, period.last_day)
    stages: list[FunnelStage] = []
    for owner in funnel_owners(config, funnel):
        values = []
        for step in funnel.steps:
            kpi = config.kpis[step]
            by_subject = kpi_counts(kpi, counts)
            values.append(flow_value(by_subject, owner_subjects(config, kpi, owner), period.first_day, through))
        for index in range(len(funnel.steps) - 1):
            start, end = values[index], values[index + 1]
            stages.append(
                FunnelStage(
                    funnel=funnel.name,
                    from_step=funnel.steps[index],
                    to_step=funnel.steps[index + 1],
                    owner=owner,
                    team=config.team_of(owner),
                    period=period.id,
                    from_value=start,
                    to_value=end,
                    ratio=end / start if start > 0 else None,
                )
            )
    return _with_benchmarks(stages, funnel.min_volume)


def _with_benchmarks(stages: list[FunnelStage], min_volume: int) -> list[FunnelStage]:
    """Attach to every stage the best ratio among owners with at least `min_volume` at its start."""
    best: dict[str, FunnelStage] = {}
    for stage in stages:
        if stage.ratio is None or stage.from_value < min_volume:
            continue
        current = best.get(stage.from_step)
        # Ties go to the owner whose name sorts first, so the benchmark does not flap.
        if (
            current is None
            or current.ratio is None
            or stage.ratio > current.ratio
            or (stage.ratio == current.ratio and stage.owner < current.owner)
        ):
            best[stage.from_step] = stage
    out: list[FunnelStage] = []
    for stage in stages:
        leader = best.get(stage.from_step)
        if leader is None:
            out.append(stage)
        else:
            out.append(replace(stage, benchmark_ratio=leader.ratio, benchmark_owner=leader.owner))
    return out


def evaluate_funnels(config: Config, counts: DailyCounts, instant: datetime) -> tuple[FunnelStage, ...]:
    """Return the stages of every configured funnel."""
    stages: list[FunnelStage] = []
    for funnel in config.funnels.values():
        stages.extend(evaluate_funnel(config, funnel, counts, instant))
    return tuple(stages)
