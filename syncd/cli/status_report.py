"""`syncd status`: every goal's pace from stored data as of an instant, as a table or JSON."""

from __future__ import annotations

from datetime import datetime
from itertools import groupby

from rich.table import Table

from syncd.cli.console import wide_console
from syncd.engine.evaluate import counts_needed, evaluate_goals
from syncd.engine.snapshot import GoalStatus
from syncd.model import Config
from syncd.store import SourceState, create_engine_for, load_daily_counts, load_source_states, upgrade
from syncd.store.goal_history import load_goals_as_of

__all__ = ["compute_status", "render_table", "source_states"]

_STYLES = {"achieved": "bold green", "ahead": "green", "on_pace": "cyan", "behind": "bold red"}


def compute_status(config: Config, instant: datetime, *, as_of: bool = False) -> tuple[GoalStatus, ...]:
    """Read the stored counts the goals need at `instant` and compute their figures.

    The configuration file is the truth for now; only an explicit `as_of` instant reads the goal
    versions stored then, so a target just changed in the file shows at once.
    """
    engine = create_engine_for(config.database_url)
    try:
        upgrade(engine)
        if as_of:
            config = load_goals_as_of(engine, config, instant)
        needed = counts_needed(config, instant)
        counts = load_daily_counts(engine, keys=needed.keys, first_day=needed.first_day, last_day=needed.last_day)
    finally:
        engine.dispose()
    return evaluate_goals(config, counts, instant)


def source_states(config: Config) -> dict[str, SourceState]:
    """Return what the store knows of every source's last syncs (for the goals' source health)."""
    engine = create_engine_for(config.database_url)
    try:
        return load_source_states(engine)
    finally:
        engine.dispose()


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.2f}"


def render_table(goals: tuple[GoalStatus, ...], instant: datetime, config: Config) -> None:
    """Print the goals grouped by team, status coloured."""
    console = wide_console()
    local = instant.astimezone(config.timezone)
    console.print(f"Pace as of [bold]{local.isoformat(timespec='minutes')}[/] ({config.timezone.key})")
    ordered = sorted(goals, key=lambda g: (g.team, g.owner, g.kpi))
    for team, members in groupby(ordered, key=lambda g: g.team):
        table = Table(title=f"team {team}" if team else "no team", title_justify="left")
        for column in ("owner", "KPI", "period", "value / target", "expected", "pace", "buffer days"):
            table.add_column(column, justify="left" if column in ("owner", "KPI", "period") else "right")
        table.add_column("status")
        table.add_column("check-in")
        for goal in members:
            f = goal.figures
            checkpoint = (
                f"{goal.checkpoint.id}: {_fmt(goal.checkpoint.value)} / {_fmt(goal.checkpoint.target)}"
                if goal.checkpoint
                else ""
            )
            table.add_row(
                goal.owner,
                goal.kpi,
                goal.period,
                f"{_fmt(goal.value)} / {_fmt(goal.target)}",
                _fmt(f.expected),
                f"{f.pace_ratio:.2f}",
                f"{f.buffer_days:+.1f}",
                f"[{_STYLES.get(f.status, '')}]{f.status}[/]",
                checkpoint,
            )
        console.print(table)
    for goal in goals:
        for note in goal.notes:
            console.print(f"  {goal.owner} / {goal.kpi}: {note}")
    if not goals:
        console.print("no goals configured")
