"""`syncd plan FUNNEL`: next period's targets per person and step, printed as goals to paste."""

from __future__ import annotations

from datetime import datetime, time

from rich.table import Table

from syncd.cli.console import wide_console
from syncd.cli.funnel_report import compute_funnel
from syncd.engine.evaluate import period_at
from syncd.engine.periods import Period, next_period
from syncd.engine.planning import StepPlan, plan_funnel
from syncd.model import Config, FixedPeriodSpec

__all__ = ["compute_plan", "render_plan"]


def compute_plan(
    config: Config, name: str, instant: datetime, *, next_one: bool, uplift: float
) -> tuple[Period, Period, list[StepPlan]]:
    """Return the current period, the planned one and every owner's step plans."""
    funnel = config.funnels[name]
    current = period_at(config, funnel.period, instant)
    if next_one and not isinstance(funnel.period, FixedPeriodSpec):
        planned = next_period(
            funnel.period.kind, current, week_start=config.week_start, fortnight_anchor=config.fortnight_anchor
        )
    else:
        planned = current
    stages = compute_funnel(config, name, instant)
    start = datetime.combine(current.first_day, time(0), tzinfo=config.timezone)
    end = datetime.combine(current.last_day, time(0), tzinfo=config.timezone)
    total = (end - start).total_seconds() + 86400
    elapsed = min(1.0, max(0.0, (instant - start).total_seconds() / total))
    plans = plan_funnel(funnel, stages, elapsed=elapsed, current=current, planned=planned, uplift=uplift)
    return current, planned, plans


def render_plan(config: Config, name: str, current: Period, planned: Period, plans: list[StepPlan]) -> None:
    """Print the plan table and the goals it proposes as a configuration snippet."""
    funnel = config.funnels[name]
    console = wide_console()
    console.print(f"Plan for funnel [bold]{name}[/], period {planned.id} (from {current.id}; domino: {funnel.domino})")
    table = Table()
    for column in ("owner", "step", f"{current.id} so far", "projected", f"target {planned.id}"):
        table.add_column(column, justify="left" if column in ("owner", "step") else "right")
    for plan in plans:
        target = "-" if plan.target is None else f"{plan.target:,.0f}"
        table.add_row(plan.owner, plan.step, f"{plan.so_far:,.0f}", f"{plan.projected:,.0f}", target)
    console.print(table)
    period = f"{{start: {planned.first_day.isoformat()}, end: {planned.last_day.isoformat()}}}"
    goals = [
        f"  - {{kpi: {plan.step}, owner: {plan.owner}, period: {period}, target: {max(1, round(plan.target))}}}"
        for plan in plans
        if plan.target is not None and plan.target > 0
    ]
    if goals:
        console.print("\nAs goals (paste into the configuration):")
        # soft_wrap: a goal stays on its line at any width, as YAML to paste must.
        console.print("goals:\n" + "\n".join(goals), markup=False, highlight=False, soft_wrap=True)
    else:
        console.print("\nNo target can be proposed yet: nothing has been counted at the domino step this period.")
