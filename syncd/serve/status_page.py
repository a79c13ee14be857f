"""The status page for people: every goal's pace and every source's health, as one HTML page."""

from __future__ import annotations

from html import escape

from syncd.engine.snapshot import GoalStatus, Snapshot, SourceStatus

__all__ = ["render_status_page"]

_COLOURS = {"achieved": "#1a7f37", "ahead": "#2da44e", "on_pace": "#9a6700", "behind": "#cf222e"}

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1f2328}
table{border-collapse:collapse;margin-bottom:2rem}
th,td{padding:.35rem .7rem;border-bottom:1px solid #d0d7de;text-align:right}
th:first-child,td:first-child,th:nth-child(2),td:nth-child(2){text-align:left}
.badge{color:#fff;border-radius:1em;padding:.1em .6em;font-size:.85em}
"""


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def _goal_row(goal: GoalStatus) -> str:
    f = goal.figures
    colour = _COLOURS.get(f.status, "#57606a")
    checkpoint = (
        f"{escape(goal.checkpoint.id)}: {_number(goal.checkpoint.value)} / {_number(goal.checkpoint.target)}"
        if goal.checkpoint
        else ""
    )
    cells = [
        escape(goal.owner) + (f" <small>({escape(goal.team)})</small>" if goal.team != goal.owner else ""),
        escape(goal.kpi),
        escape(goal.period),
        f"{_number(goal.value)} / {_number(goal.target)}",
        _number(f.expected),
        f"{f.pace_ratio:.2f}",
        f"{f.buffer_days:+.1f}",
        f'<span class="badge" style="background:{colour}">{escape(f.status)}</span>',
        checkpoint,
    ]
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def _health(source: SourceStatus) -> str:
    """Say how a source is doing in words that fit its kind: pulled on a schedule, or pushed to."""
    if not source.pulled:
        if source.up is False:
            return "down: the last push was not stored"
        return "up: receiving pushes" if source.last_success else "up: waiting for a first push"
    return "up" if source.up else ("no sync yet" if source.up is None else "down")


def render_status_page(snapshot: Snapshot) -> str:
    """Return the HTML of the status page for `snapshot`."""
    goal_rows = "\n".join(_goal_row(goal) for goal in sorted(snapshot.goals, key=lambda g: (g.team, g.owner)))
    source_rows = "\n".join(
        "<tr>"
        f"<td>{escape(s.name)}</td><td>{escape(s.connector)}</td>"
        f"<td>{_health(s)}</td>"
        f"<td>{escape(s.last_success.isoformat(timespec='seconds')) if s.last_success else '-'}</td>"
        f"<td>{escape(s.last_error or '')}</td>"
        "</tr>"
        for s in snapshot.sources
    )
    personal = "\n".join(
        f"<li><strong>{escape(own.owner)}</strong>: {escape(own.text)}"
        + (f" <small>(by {escape(own.by)})</small>" if own.by else "")
        + (f" <small>rests on {escape(', '.join(own.kpis))}</small>" if own.kpis else "")
        + "</li>"
        for own in snapshot.personal_goals
    )
    personal_section = f"<h2>Personal goals</h2>\n<ul>\n{personal}\n</ul>" if personal else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>syncd</title><style>{_STYLE}</style></head>
<body>
<h1>syncd</h1>
<p>As of {escape(snapshot.generated_at.isoformat(timespec="seconds"))}.
<a href="/metrics">/metrics</a> · <a href="/api/v1/goals">/api/v1/goals</a></p>
<h2>Goals</h2>
<table><tr><th>Owner</th><th>KPI</th><th>Period</th><th>Value / target</th><th>Expected</th>
<th>Pace</th><th>Buffer days</th><th>Status</th><th>Check-in</th></tr>
{goal_rows}
</table>
{personal_section}
<h2>Sources</h2>
<table><tr><th>Source</th><th>Connector</th><th>State</th><th>Last success</th><th>Last error</th></tr>
{source_rows}
</table>
</body></html>
"""
