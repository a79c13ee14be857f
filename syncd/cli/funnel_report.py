"""`syncd funnel NAME`: each owner's stage conversions, the benchmark per stage, and a what-if."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.table import Table

from syncd.cli.console import wide_console
from syncd.engine.evaluate import counts_needed, period_at
from syncd.engine.funnels import evaluate_funnel
from syncd.engine.snapshot import FunnelStage
from syncd.model import Config
from syncd.store import create_engine_for, load_daily_counts, upgrade

__all__ = ["WhatIf", "compute_funnel", "render_funnel", "what_if"]


@dataclass(frozen=True)
class WhatIf:
    """The last step's count now, and if every stage converted `uplift` better, compounded."""

    owner: str
    last_step_now: float
    last_step_then: float

    @property
    def gain(self) -> float:
        return self.last_step_then - self.last_step_now


def compute_funnel(config: Config, name: str, instant: datetime) -> list[FunnelStage]:
    """Read the stored counts and return the funnel's stages at `instant`."""
    funnel = config.funnels[name]
    engine = create_engine_for(config.database_url)
    try:
        upgrade(engine)
        needed = counts_needed(config, instant, goals=[])
        counts = load_daily_counts(engine, keys=needed.keys, first_day=needed.first_day, last_day=needed.last_day)
    finally:
        engine.dispose()
    return evaluate_funnel(config, funnel, counts, instant)


def what_if(stages: list[FunnelStage], uplift: float) -> list[WhatIf]:
    """Return each owner's last-step gain if every stage's conversion rose by `uplift` (0.1 = 10%).

    With n stages the last step scales by (1 + uplift)^n: each stage multiplies what reaches it.
    """
    by_owner: dict[str, list[FunnelStage]] = {}
    for stage in stages:
        by_owner.setdefault(stage.owner, []).append(stage)
    out = []
    for owner, owned in by_owner.items():
        last = owned[-1].to_value
        out.append(WhatIf(owner, last, last * (1 + uplift) ** len(owned)))
    return out


def render_funnel(
    config: Config, name: str, stages: list[FunnelStage], instant: datetime, uplift: float | None
) -> None:
    """Print the stage table with benchmarks, then the what-if."""
    console = wide_console()
    funnel = config.funnels[name]
    period = period_at(config, funnel.period, instant)
    console.print(f"Funnel [bold]{name}[/], period {period.id}: {' -> '.join(funnel.steps)}")
    # The domino is the step whose volume drives every later one: the first lever to pull.
    console.print(f"domino step: [bold]{funnel.domino}[/] (every later step follows its volume)")
    # Step names are KPI names (outreach_emails_sent): one per line, never cut, and the benchmark
    # beside its owner, so the table fits 80 columns.
    table = Table()
    table.add_column("owner")
    table.add_column("stage", overflow="fold")
    for column in ("from", "to", "ratio"):
        table.add_column(column, justify="right")
    table.add_column("best (who)", justify="right", overflow="fold")
    for stage in stages:
        best = (
            f"{stage.benchmark_ratio:.1%} ({stage.benchmark_owner})"
            if stage.benchmark_ratio is not None and stage.benchmark_owner
            else f"none with {funnel.min_volume}+ at the start"
        )
        table.add_row(
            stage.owner,
            f"{stage.from_step}\n-> {stage.to_step}",
            f"{stage.from_value:g}",
            f"{stage.to_value:g}",
            "-" if stage.ratio is None else f"{stage.ratio:.1%}",
            best,
        )
    console.print(table)
    if uplift is not None:
        console.print(f"What if every stage converted {uplift:.0%} better (compounded over the stages):")
        rows = what_if(stages, uplift)
        for row in rows:
            console.print(
                f"  {row.owner}: {funnel.steps[-1]} {row.last_step_now:g} -> {row.last_step_then:.1f} (+{row.gain:.1f})"
            )
        # Ratios held, the last step grows as much as the domino does.
        console.print(f"What if only {funnel.domino} grew {uplift:.0%} (the ratios after it held):")
        for row in rows:
            now, then = row.last_step_now, row.last_step_now * (1 + uplift)
            console.print(f"  {row.owner}: {funnel.steps[-1]} {now:g} -> {then:.1f} (+{then - now:.1f})")
