"""`syncd status` as people and scripts read it: a table that fits the terminal, JSON and CSV.

The table has two layouts: the wide one (a column per figure) where there is room, and a compact one
for 80 columns (a goal's owner, KPI and period stacked in one cell, the check-in under the status).
JSON and CSV carry the same keys as the API (`syncd.serve.api`), rounded the same way.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from datetime import datetime
from itertools import groupby

from rich.console import Console
from rich.table import Table

from syncd.engine.snapshot import GoalStatus
from syncd.model import Config
from syncd.serve.api import goal_json, tidy
from syncd.store import SourceState

__all__ = ["COMPACT_BELOW", "goal_rows", "render_compact", "render_csv", "render_json"]

# Narrower than this, the wide table would cut KPI names and statuses: use the compact layout.
COMPACT_BELOW = 120

_STYLES = {"achieved": "bold green", "ahead": "green", "on_pace": "cyan", "behind": "bold red"}
CSV_COLUMNS = (
    "kpi", "owner", "team", "period", "source", "source_state", "start", "deadline", "value", "target", "committed",
    "expected", "pace_ratio", "progress_ratio", "elapsed_ratio", "projected", "required_daily_rate", "buffer_days",
    "hit_probability", "status", "checkpoint_id", "checkpoint_target", "checkpoint_value", "as_of", "notes",
)  # fmt: skip


def _source_state(goal: GoalStatus, states: Mapping[str, SourceState]) -> str:
    # A KPI over several sources is as healthy as its least healthy source.
    words = []
    for name in goal.source.split("+"):
        state = states.get(name)
        if state is None or (state.last_success_at is None and state.last_error is None):
            words.append("never synced")
        elif state.last_error and (state.last_success_at is None or (state.consecutive_failures or 0) > 0):
            words.append("down")
        else:
            words.append("up")
    for worst in ("down", "never synced"):
        if worst in words:
            return worst
    return "up"


def goal_rows(goals: tuple[GoalStatus, ...], instant: datetime, states: Mapping[str, SourceState]) -> list[object]:
    """Return the goals as JSON-ready objects: the API's keys plus the health of their source."""
    rows = []
    for goal in goals:
        data = goal_json(goal, instant)
        data["source_state"] = _source_state(goal, states)
        rows.append(tidy(data))
    return rows


def render_json(goals: tuple[GoalStatus, ...], instant: datetime, states: Mapping[str, SourceState]) -> str:
    """Return the JSON array `status --format json` prints (CONTRACT §2 keys, and more)."""
    return json.dumps(goal_rows(goals, instant, states), indent=2)


def render_csv(goals: tuple[GoalStatus, ...], instant: datetime, states: Mapping[str, SourceState]) -> str:
    """Return one CSV row per goal, with a header."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in goal_rows(goals, instant, states):
        assert isinstance(row, dict)
        checkpoint = row.get("checkpoint") or {}
        writer.writerow(
            {
                **row,
                "checkpoint_id": checkpoint.get("id", ""),
                "checkpoint_target": checkpoint.get("target", ""),
                "checkpoint_value": checkpoint.get("value", ""),
                "notes": "; ".join(row.get("notes") or []),
            }
        )
    return out.getvalue()


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.1f}"


def render_compact(
    console: Console,
    goals: tuple[GoalStatus, ...],
    instant: datetime,
    config: Config,
    states: Mapping[str, SourceState],
) -> None:
    """Print the goals in a layout that fits 80 columns."""
    local = instant.astimezone(config.timezone)
    console.print(f"Pace as of [bold]{local.isoformat(timespec='minutes')}[/] ({config.timezone.key})")
    ordered = sorted(goals, key=lambda g: (g.team, g.owner, g.kpi))
    for team, members in groupby(ordered, key=lambda g: g.team):
        table = Table(
            title=f"team {team}" if team else "no team", title_justify="left", pad_edge=False, show_lines=True
        )
        table.add_column("goal", overflow="fold", ratio=3)
        table.add_column("value / target", justify="right", no_wrap=True)
        table.add_column("pace", justify="right", no_wrap=True)
        table.add_column("buffer", justify="right", no_wrap=True)
        table.add_column("status", no_wrap=True)
        for goal in members:
            f = goal.figures
            unit = config.kpis[goal.kpi].unit if goal.kpi in config.kpis else ""
            state = _source_state(goal, states)
            status = f"[{_STYLES.get(f.status, '')}]{f.status}[/]"
            if state != "up":
                status += f"\n[dim]source {state}[/]"
            if goal.checkpoint:
                status += f"\n[dim]{_fmt(goal.checkpoint.value)}/{_fmt(goal.checkpoint.target)} this check-in[/]"
            table.add_row(
                f"[bold]{goal.owner}[/]\n{goal.kpi}\n[dim]{goal.period}[/]",
                f"{_fmt(goal.value)} / {_fmt(goal.target)}" + (f"\n[dim]{unit}[/]" if unit else ""),
                f"{f.pace_ratio:.2f}",
                f"{f.buffer_days:+.1f}d",
                status,
            )
        console.print(table)
    for goal in goals:
        for note in goal.notes:
            console.print(f"  {goal.owner} / {goal.kpi}: {note}", overflow="fold")
    if not goals:
        console.print("no goals configured")
