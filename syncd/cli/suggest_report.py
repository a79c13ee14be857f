"""`syncd suggest --kpi K --owner P`: the owner's last periods, and a goal proposed from them."""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.table import Table

from syncd.cli.console import wide_console
from syncd.engine.evaluate import kpi_counts, owner_subjects, period_at
from syncd.engine.periods import Period, next_period, period_containing
from syncd.engine.suggest import PastPeriod, Suggestion, past_period, suggest
from syncd.model import CheckinKind, Config, Goal, PeriodKind, RecurringPeriodSpec
from syncd.store import create_engine_for, load_daily_counts, upgrade

__all__ = ["compute_suggestion", "render_suggestion"]

HISTORY_PERIODS = 6


def _goal_of(config: Config, kpi: str, owner: str) -> Goal | None:
    return next((g for g in config.goals if g.kpi == kpi and g.owner == owner), None)


def _finest(checkins: object) -> CheckinKind | None:
    # A goal's check-ins may be one level or several (finest last).
    if isinstance(checkins, tuple | list):
        return checkins[-1] if checkins else None
    return checkins  # type: ignore[return-value]


def compute_suggestion(
    config: Config, kpi_name: str, owner: str, instant: datetime, *, next_one: bool, stretch: float
) -> Suggestion:
    """Read the owner's last periods from the store and propose the next (or current) period's goal."""
    kpi = config.kpis[kpi_name]
    goal = _goal_of(config, kpi_name, owner)
    kind: PeriodKind = goal.period.kind if goal and isinstance(goal.period, RecurringPeriodSpec) else "month"
    spec = RecurringPeriodSpec(kind)
    current = period_at(config, spec, instant)
    week_start, anchor = config.week_start, config.fortnight_anchor
    planned = next_period(kind, current, week_start=week_start, fortnight_anchor=anchor) if next_one else current
    past: list[Period] = []
    day = current.first_day - timedelta(days=1)
    for _ in range(HISTORY_PERIODS):
        period = period_containing(kind, day, week_start=week_start, fortnight_anchor=anchor)
        past.insert(0, period)
        day = period.first_day - timedelta(days=1)
    engine = create_engine_for(config.database_url)
    try:
        upgrade(engine)
        counts = load_daily_counts(engine, keys=kpi.count_keys, first_day=past[0].first_day, last_day=past[-1].last_day)
    finally:
        engine.dispose()
    by_subject = kpi_counts(kpi, counts)
    subjects = owner_subjects(config, kpi, owner)
    rows = [
        past_period(
            kpi,
            by_subject,
            subjects,
            period,
            target=goal.target if goal else None,
            checkins=_finest(goal.checkins) if goal else None,
            week_start=config.week_start,
        )
        for period in past
    ]
    return suggest(rows, planned, stretch=stretch, stock=kpi.kind == "stock", kind=kind)


def render_suggestion(config: Config, kpi_name: str, owner: str, suggestion: Suggestion, *, fixed: bool) -> None:
    """Print the owner's history, the proposal and the goal as a configuration snippet."""
    console = wide_console()
    kpi = config.kpis[kpi_name]
    unit = f" {kpi.unit}" if kpi.unit else ""
    console.print(f"[bold]{owner}[/] on [bold]{kpi_name}[/]: the last {len(suggestion.basis)} periods")
    table = Table()
    for column in ("period", "achieved", "vs today's target", "check-ins hit"):
        table.add_column(column, justify="left" if column == "period" else "right")
    for row in suggestion.basis:
        if row.achieved is None:
            table.add_row(row.period.id, "no data", "-", "-")
            continue
        table.add_row(row.period.id, f"{row.achieved:,.0f}{unit}", _pace(row), _hits(row))
    console.print(table)
    if suggestion.committed is None:
        console.print("Nothing counted for them in these periods: no figure to propose yet.")
        return
    console.print(
        f"Proposed for {suggestion.period.id}: committed {suggestion.committed:,.0f}{unit} (their typical recent "
        f"period), target {suggestion.target:,.0f}{unit} with a {suggestion.stretch:.0%} stretch."
    )
    period = (
        f"{{start: {suggestion.period.first_day.isoformat()}, end: {suggestion.period.last_day.isoformat()}}}"
        if fixed
        else suggestion.kind
    )
    console.print("\nAs a goal (paste into the configuration):")
    console.print(
        "goals:\n"
        f"  - kpi: {kpi_name}\n    owner: {owner}\n    period: {period}\n"
        f"    committed: {round(suggestion.committed)}\n    stretch: {suggestion.stretch:g}",
        markup=False,
        highlight=False,
    )


def _pace(row: PastPeriod) -> str:
    return "-" if row.pace is None or row.target is None else f"{row.pace:.0%} of {row.target:,.0f}"


def _hits(row: PastPeriod) -> str:
    return "-" if row.checkins_total is None else f"{row.checkins_hit}/{row.checkins_total}"
