"""`syncd checkins`: every goal's closed check-ins per level (hit, missed, incomplete) and the current ones."""

from __future__ import annotations

from datetime import datetime

from rich.table import Table

from syncd.cli.console import wide_console
from syncd.engine.evaluate import counts_needed, evaluate_goals
from syncd.engine.snapshot import GoalStatus, Snapshot
from syncd.model import Config
from syncd.run.checkin_record import record_checkin_results
from syncd.serve.checkin_view import goal_ladder
from syncd.store import create_engine_for, load_daily_counts, upgrade

__all__ = ["compute_checkins", "owned_by", "render_checkins"]

_STYLES = {"hit": "green", "missed": "bold red", "incomplete": "yellow"}


def compute_checkins(config: Config, instant: datetime) -> Snapshot:
    """Judge and store the finished check-ins as of `instant`; return the goals with their stored results.

    The command shows the goals' current periods only (`checkin_view`, previous_period=False).
    """
    engine = create_engine_for(config.database_url)
    try:
        upgrade(engine)
        needed = counts_needed(config, instant)
        counts = load_daily_counts(engine, keys=needed.keys, first_day=needed.first_day, last_day=needed.last_day)
        results = record_checkin_results(engine, config, counts, instant)
    finally:
        engine.dispose()
    goals = tuple(goal for goal in evaluate_goals(config, counts, instant) if goal.checkpoints)
    return Snapshot(generated_at=instant, goals=goals, checkins=results, ready=True)


def owned_by(goal: GoalStatus, owner: str | None) -> bool:
    """Say whether `--owner` selects the goal: its owner, or the team it belongs to."""
    return owner is None or owner in (goal.owner, goal.team)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.2f}"


def render_checkins(snapshot: Snapshot, owner: str | None) -> None:
    """Print one table per goal: each level's closed check-ins, then its current one."""
    console = wide_console()
    shown = 0
    for goal in sorted(snapshot.goals, key=lambda g: (g.team, g.owner, g.kpi)):
        if not owned_by(goal, owner):
            continue
        shown += 1
        table = Table(title=f"{goal.owner} / {goal.kpi} ({goal.period})", title_justify="left")
        for column in ("level", "check-in", "value / target", "result"):
            table.add_column(column, justify="right" if column == "value / target" else "left")
        current = {checkpoint.level: checkpoint for checkpoint in goal.checkpoints}
        for level, results in goal_ladder(snapshot, goal, previous_period=False).items():
            for r in results:
                unknown = f" ({r.unknown_days} days never synced)" if r.unknown_days else ""
                final = "" if r.final else ", provisional"
                table.add_row(
                    level,
                    r.checkpoint,
                    f"{_fmt(r.value)} / {_fmt(r.target)}",
                    f"[{_STYLES[r.outcome]}]{r.outcome}[/]{unknown}{final}",
                )
            if level in current:
                now = current[level]
                table.add_row(level, now.id, f"{_fmt(now.value)} / {_fmt(now.target)}", "in progress")
        console.print(table)
    if not shown:
        console.print("no goals with check-ins" + (f" for {owner}" if owner else ""))
