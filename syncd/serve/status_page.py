"""The status page for people: who is on pace, who is not and why, at a glance (server-rendered).

Everything comes from the current snapshot: the page never touches the database, so it answers as
fast as /metrics. No JavaScript: a sparkline is inline SVG, auto-refresh is a meta tag (`?refresh=30`),
and the layout is a grid of cards that folds to one column on a phone. Every text is escaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, tzinfo
from html import escape
from urllib.parse import urlencode

from syncd.config_reference import format_duration
from syncd.engine.snapshot import FunnelOutcome, FunnelStage, GoalStatus, Snapshot, SourceStatus
from syncd.engine.trail import GoalTrail
from syncd.serve.checkin_view import goal_ladder

__all__ = ["goal_state", "render_status_page"]

# A source that missed two of its intervals serves stale numbers (as the SyncdSourceStale alert says).
STALE_AFTER_INTERVALS = 2
MIN_REFRESH_SECONDS, MAX_REFRESH_SECONDS = 5, 3600

# state -> (label people read, urgency: lower sorts first)
_STATES = {
    "source_down": ("Source down", 0),
    "stale": ("Data stale", 1),
    "incomplete": ("Data incomplete", 2),
    "behind": ("Behind", 3),
    "at_risk": ("At risk", 4),
    "on_pace": ("On pace", 5),
    "ahead": ("Ahead", 6),
    "achieved": ("Achieved", 7),
    "never_synced": ("Waiting for first sync", 8),
}
# A goal on pace whose chance of hitting the target is this low is flagged (as SyncdGoalAtRisk does).
AT_RISK_PROBABILITY = 0.2

_STYLE = """
:root{--fg:#1f2328;--muted:#57606a;--line:#d0d7de;--card:#fff;--bg:#f6f8fa}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:var(--fg);background:var(--bg);
line-height:1.4}
header,main{max-width:72rem;margin:0 auto;padding:1rem}
header p{margin:.25rem 0;color:var(--muted)}
h1{font-size:1.5rem;margin:.5rem 0}
h2{font-size:1.25rem;margin:1.5rem 0 .5rem;border-bottom:1px solid var(--line);padding-bottom:.25rem}
h3{font-size:1.05rem;margin:1rem 0 .5rem}
a{color:#0550ae}
.summary{display:flex;flex-wrap:wrap;gap:.5rem;padding:0;list-style:none}
.summary li{padding:.2rem .6rem;border-radius:1rem;font-size:.9rem}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr));gap:.75rem}
.goal{background:var(--card);border:1px solid var(--line);border-left:.35rem solid;border-radius:.5rem;
padding:.75rem;min-width:0}
.goal h4{margin:0;font-size:1rem;overflow-wrap:anywhere}
.goal .desc{margin:.1rem 0 .4rem;color:var(--muted);font-size:.85rem}
.headline{display:flex;justify-content:space-between;align-items:baseline;gap:.5rem;flex-wrap:wrap}
.value{font-size:1.35rem;font-weight:600}
.badge{font-size:.8rem;font-weight:600;padding:.1rem .5rem;border-radius:1rem;white-space:nowrap}
.why{font-size:.85rem;margin:.3rem 0}
svg.spark{width:100%;height:2.5rem;display:block;margin:.3rem 0}
dl{display:grid;grid-template-columns:auto 1fr;gap:.1rem .75rem;margin:.4rem 0;font-size:.85rem}
dt{color:var(--muted)}dd{margin:0;text-align:right;font-variant-numeric:tabular-nums}
.links{font-size:.8rem;margin:.3rem 0 0}
.table-wrap{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;background:var(--card);font-size:.9rem;min-width:100%}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{padding:.3rem .6rem;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
th.num,td.num{text-align:right;font-variant-numeric:tabular-nums}
.s-behind{border-left-color:#b42318}.s-behind svg{color:#b42318}
.s-on_pace svg{color:#175cd3}.s-ahead svg,.s-achieved svg{color:#067647}.s-at_risk svg{color:#b54708}
.b-behind{background:#fee4e2;color:#912018}
.s-at_risk{border-left-color:#b54708}.b-at_risk{background:#fef0c7;color:#7a2e0e}
.s-on_pace{border-left-color:#175cd3}.b-on_pace{background:#d1e9ff;color:#194185}
.s-ahead{border-left-color:#067647}.b-ahead{background:#d1fadf;color:#05603a}
.s-achieved{border-left-color:#05603a}.b-achieved{background:#a6f4c5;color:#054f31}
.s-source_down,.s-stale,.s-incomplete,.s-never_synced{border-left-color:#667085;border-left-style:dashed}
.b-source_down,.b-stale,.b-incomplete,.b-never_synced{background:#eaecf0;color:#344054}
.s-source_down .value,.s-stale .value,.s-incomplete .value{color:var(--muted)}
.ladder{font-size:.8rem;color:var(--muted)}
.ladder span{display:inline-block;min-width:1.1em;margin-left:.15em;border-radius:.2em;color:#fff;text-align:center}
@media (max-width:40rem){header,main{padding:.75rem}.cards{grid-template-columns:1fr}
table,caption,tbody,tr,td{display:block}thead{display:none}table{min-width:0;background:none}
tr{background:var(--card);border:1px solid var(--line);border-radius:.4rem;margin:0 0 .5rem;padding:.2rem .6rem}
td,td.num{display:flex;justify-content:space-between;gap:1rem;border:0;padding:.15rem 0;white-space:normal;
text-align:right;overflow-wrap:anywhere}
td::before{content:attr(data-label);color:var(--muted);text-align:left;white-space:nowrap}
td:empty{display:none}}
"""


def _num(value: float) -> str:
    """Write a figure as people do: thousands separated, one decimal only where it carries meaning."""
    if abs(value - round(value)) < 0.05 or abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def _chance(probability: float | None) -> str:
    if probability is None:
        return "–"
    if probability < 0.01:
        return "under 1%"
    if probability > 0.99:
        return "over 99%"
    return f"{probability:.0%}"


def _with_unit(value: float, unit: str) -> str:
    return f"{_num(value)} {escape(unit)}" if unit else _num(value)


def _ago(then: datetime, now: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 90 * 60:
        return f"{seconds // 60} min ago"
    if seconds < 36 * 3600:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def _when(local: datetime) -> str:
    """Say a local instant as people read it, naming its zone: "23 Nov 2026, 07:00 EST (America/New_York)"."""
    text = local.strftime("%d %b %Y, %H:%M %Z").strip()
    # An abbreviation alone is ambiguous (IST, CST) and hides which zone the configuration set.
    zone = str(local.tzinfo)
    return text if text.endswith(zone) else f"{text} ({zone})"


def _source_trouble(goal: GoalStatus, sources: Mapping[str, SourceStatus], now: datetime) -> str | None:
    """Return source_down, stale or never_synced when a source of the goal makes its number unreliable."""
    worst: str | None = None
    for name in goal.source.split("+"):
        source = sources.get(name)
        if source is None:
            continue
        if source.up is False:
            return "source_down"
        interval = source.interval_seconds
        if source.last_success is not None and interval:
            # A push source without expect_every has no interval: it is never stale by the clock.
            if now - source.last_success > timedelta(seconds=STALE_AFTER_INTERVALS * interval):
                worst = "stale"
        elif source.up is None and worst is None:
            worst = "never_synced"
    return worst


def goal_state(goal: GoalStatus, sources: Mapping[str, SourceStatus], now: datetime) -> str:
    """Return what the page says of a goal: its status, unless its data cannot be trusted yet."""
    trouble = _source_trouble(goal, sources, now)
    if trouble is not None:
        return trouble
    if not getattr(goal, "data_complete", True):
        return "incomplete"
    status = goal.figures.status
    if status == "on_pace" and goal.hit_probability is not None and goal.hit_probability < AT_RISK_PROBABILITY:
        return "at_risk"
    return str(status)


def _urgency(goal: GoalStatus, state: str) -> tuple[int, float]:
    return _STATES[state][1], goal.figures.buffer_days


def _sparkline(trail: GoalTrail | None, label: str) -> str:
    if trail is None or not trail.expected:
        return ""
    width, height = 120.0, 30.0
    top = max([*trail.expected, *trail.actual, 1e-9])
    bottom = min([0.0, *trail.expected, *trail.actual])
    span = (top - bottom) or 1.0
    step = width / max(1, len(trail.expected) - 1)

    def points(series: Iterable[float]) -> str:
        return " ".join(f"{i * step:.1f},{height - (v - bottom) / span * height:.1f}" for i, v in enumerate(series))

    actual = (
        f'<polyline fill="none" stroke="currentColor" stroke-width="2" points="{points(trail.actual)}"/>'
        if trail.actual
        else ""
    )
    return (
        f'<svg class="spark" viewBox="0 -2 {width:.0f} {height + 4:.0f}" preserveAspectRatio="none" role="img" '
        f'aria-label="{escape(label)}"><title>{escape(label)}</title>'
        f'<polyline fill="none" stroke="#8c959f" stroke-width="1.5" stroke-dasharray="4 3" '
        f'points="{points(trail.expected)}"/>{actual}</svg>'
    )


def _why(goal: GoalStatus, state: str, sources: Mapping[str, SourceStatus]) -> str:
    """Return one sentence saying why the goal is in its state."""
    f = goal.figures
    names = ", ".join(goal.source.split("+"))
    if state == "source_down":
        errors = [s.last_error for n in goal.source.split("+") if (s := sources.get(n)) and s.last_error]
        detail = f": {errors[0]}" if errors else ""
        return f"The number is not current: {names} cannot be synced{detail}."
    if state == "stale":
        return f"The number is not current: {names} has not synced for over {STALE_AFTER_INTERVALS} intervals."
    if state == "never_synced":
        return f"Waiting for the first sync of {names}."
    if state == "incomplete":
        return "History for this period is still being fetched; the figures will move."
    if state == "achieved":
        return "Target reached."
    ahead = f.buffer_days
    days = f"{abs(ahead):,.1f} working day{'s' if abs(ahead) != 1 else ''}"
    if state == "at_risk":
        return f"On the curve today, but only a {goal.hit_probability:.0%} chance of reaching the target."
    if ahead >= 0:
        return f"{days} ahead of the curve."
    return f"{days} behind the curve; {_num(f.required_daily_rate)} a working day needed from now on."


def _goal_card(
    goal: GoalStatus, state: str, sources: Mapping[str, SourceStatus], grafana_url: str | None, ladder: str = ""
) -> str:
    f = goal.figures
    label, _ = _STATES[state]
    unit = goal.unit
    description = f'<p class="desc">{escape(goal.description)}</p>' if goal.description else ""
    spark = _sparkline(
        goal.trail,
        f"{goal.kpi}: actual {_num(goal.value)} against {_num(f.expected)} expected by now "
        f"(dashed: the expected curve to {_num(goal.target)})",
    )
    rows = [
        ("Expected by now", _with_unit(f.expected, unit)),
        ("Pace", f"{f.pace_ratio:.0%} of expected"),
        ("Projected finish", _with_unit(f.projected, unit)),
        ("Chance to hit", _chance(goal.hit_probability)),
        ("Needed per working day", _with_unit(f.required_daily_rate, unit)),
        ("Buffer", f"{f.buffer_days:+,.1f} working days"),
        ("Period", f"{escape(goal.period)}, {f.elapsed_ratio:.0%} gone"),
    ]
    if goal.committed is not None:
        rows.insert(0, ("Committed", _with_unit(goal.committed, unit)))
    for cp in goal.checkpoints or ((goal.checkpoint,) if goal.checkpoint else ()):
        rows.append((f"Check-in {escape(cp.id)}", f"{_num(cp.value)} / {_num(cp.target)}"))
    figures = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows)
    query = urlencode({"kpi": goal.kpi, "owner": goal.owner})
    links = [f'<a href="/api/v1/goals?{escape(query)}">JSON</a>']
    if grafana_url:
        panel = urlencode({"var-owner": goal.owner, "var-kpi": goal.kpi})
        links.append(f'<a href="{escape(grafana_url.rstrip("/"))}/d/syncd-person?{escape(panel)}">Grafana</a>')
    return (
        f'<article class="goal s-{state}" aria-label="{escape(goal.owner)}: {escape(goal.kpi)}, {label}">'
        f"<h4>{escape(goal.kpi)}</h4>{description}"
        f'<div class="headline"><span class="value">{_num(goal.value)} / {_with_unit(goal.target, unit)}</span>'
        f'<span class="badge b-{state}">{label}</span></div>'
        f'<p class="why">{escape(_why(goal, state, sources))}</p>'
        f"{spark}<dl>{figures}</dl>{ladder}"
        f'<p class="links">{" · ".join(links)}</p></article>'
    )


# hit, missed, incomplete: colour and the one mark that reads without colour too
_OUTCOMES = {"hit": ("#067647", "✓"), "missed": ("#b42318", "✗"), "incomplete": ("#667085", "?")}


def render_ladder(snapshot: Snapshot, goal: GoalStatus) -> str:
    """Return the goal's closed check-ins as one line of marks per level, oldest first, the previous period's too."""
    lines = []
    for level, results in goal_ladder(snapshot, goal, previous_period=True).items():
        marks = "".join(
            f'<span class="{r.outcome}" style="background:{_OUTCOMES[r.outcome][0]}" '
            f'title="{escape(r.checkpoint)}: {_num(r.value)} / {_num(r.target)} ({r.outcome})">'
            f"{_OUTCOMES[r.outcome][1]}</span>"
            for r in results
        )
        lines.append(f'<div class="ladder">{escape(level)} check-ins {marks or "-"}</div>')
    return "".join(lines)


def _goals_section(snapshot: Snapshot, sources: Mapping[str, SourceStatus], grafana_url: str | None) -> str:
    now = snapshot.generated_at
    states = {id(goal): goal_state(goal, sources, now) for goal in snapshot.goals}
    by_team: dict[str, dict[str, list[GoalStatus]]] = {}
    for goal in snapshot.goals:
        by_team.setdefault(goal.team or "no team", {}).setdefault(goal.owner, []).append(goal)
    parts: list[str] = []
    for team in sorted(by_team):
        owners = by_team[team]
        for goals in owners.values():
            goals.sort(key=lambda g: _urgency(g, states[id(g)]))
        order = sorted(owners, key=lambda o: (_urgency(owners[o][0], states[id(owners[o][0])]), o))
        parts.append(
            f'<section aria-labelledby="team-{escape(team)}"><h2 id="team-{escape(team)}">Team {escape(team)}</h2>'
        )
        for owner in order:
            who = "the team" if owner == team else owner
            cards = "".join(
                _goal_card(g, states[id(g)], sources, grafana_url, render_ladder(snapshot, g)) for g in owners[owner]
            )
            parts.append(f'<h3>{escape(who)}</h3><div class="cards">{cards}</div>')
        parts.append("</section>")
    return "\n".join(parts) if parts else "<p>No goals are configured.</p>"


def _summary(snapshot: Snapshot, sources: Mapping[str, SourceStatus]) -> str:
    counts: dict[str, int] = {}
    for goal in snapshot.goals:
        state = goal_state(goal, sources, snapshot.generated_at)
        counts[state] = counts.get(state, 0) + 1
    items = [
        f'<li class="b-{state}">{count} {escape(_STATES[state][0].lower())}</li>'
        for state, count in sorted(counts.items(), key=lambda item: _STATES[item[0]][1])
    ]
    return f'<ul class="summary" aria-label="Goals by state">{"".join(items)}</ul>' if items else ""


def _table(caption: str, columns: Iterable[str], rows: Iterable[Iterable[str]], numeric: Iterable[str] = ()) -> str:
    """Return a table whose cells carry their column's name, so a phone can stack each row as a card.

    `caption` and the cells are HTML already escaped; `numeric` columns are aligned to the right.
    """
    names = list(columns)
    right = set(numeric)
    heads = "".join(f"<th scope=col{' class=num' if n in right else ''}>{escape(n)}</th>" for n in names)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td data-label="{escape(n)}"{" class=num" if n in right else ""}>{cell}</td>'
            for n, cell in zip(names, row, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    return (
        f'<div class="table-wrap"><table><caption>{caption}</caption>'
        f"<thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _funnels_section(stages: tuple[FunnelStage, ...], outcomes: tuple[FunnelOutcome, ...]) -> str:
    if not stages:
        return ""
    parts = ["<h2>Funnels</h2>"]
    for name in dict.fromkeys(stage.funnel for stage in stages):
        rows = [
            (
                escape(stage.owner),
                f"{escape(stage.from_step)} → {escape(stage.to_step)}",
                _num(stage.from_value),
                _num(stage.to_value),
                "–" if stage.ratio is None else f"{stage.ratio:.1%}",
                ("–" if stage.benchmark_ratio is None else f"{stage.benchmark_ratio:.1%}")
                + f" ({escape(stage.benchmark_owner or '–')})",
            )
            for stage in stages
            if stage.funnel == name
        ]
        domino = next((o.domino for o in outcomes if o.funnel == name), "")
        caption = f"{escape(name)}" + (f" — domino step: {escape(domino)}" if domino else "")
        numbers = ("In", "Out", "Conversion", "Benchmark (best)")
        parts.append(_table(caption, ("Owner", "Stage", *numbers), rows, numbers))
        mine = [o for o in outcomes if o.funnel == name]
        if mine:
            uplift = f"{mine[0].uplift:.0%}"
            scenarios = ("Now", f"Domino +{uplift}", f"Every stage +{uplift}", "At the benchmark")
            lines = [
                (escape(o.owner), _num(o.current), _num(o.domino_uplift), _num(o.ratio_uplift), _num(o.benchmark))
                for o in mine
            ]
            parts.append(_table(f"{escape(name)}: last step now and if …", ("Owner", *scenarios), lines, scenarios))
    return "\n".join(parts)


def _health(source: SourceStatus) -> str:
    """Say how a source is doing in words that fit its kind: pulled on a schedule, or pushed to."""
    if not source.pulled:
        if source.up is False:
            return "down: the last push was not stored"
        return "up: receiving pushes" if source.last_success else "up: waiting for a first push"
    return "up" if source.up else ("no sync yet" if source.up is None else "down")


def _sources_section(sources: tuple[SourceStatus, ...], now: datetime) -> str:
    rows = []
    for s in sources:
        last = (
            f'<time datetime="{s.last_success.isoformat()}">{_ago(s.last_success, now)}</time>'
            if s.last_success
            else "–"
        )
        # As the configuration writes it (15m, 1h), not as Python prints a timedelta (0:15:00).
        every = "when pushed" if s.interval_seconds is None else format_duration(timedelta(seconds=s.interval_seconds))
        rows.append((escape(s.name), escape(s.connector), _health(s), last, escape(every), escape(s.last_error or "")))
    columns = ("Source", "Connector", "State", "Last success", "Every", "Last error")
    return "<h2>Sources</h2>" + _table("Freshness of each connected account", columns, rows, ("Last success", "Every"))


def _personal_section(snapshot: Snapshot) -> str:
    items = "\n".join(
        f"<li><strong>{escape(own.owner)}</strong>: {escape(own.text)}"
        + (f" <small>(by {escape(own.by)})</small>" if own.by else "")
        + (f" <small>rests on {escape(', '.join(own.kpis))}</small>" if own.kpis else "")
        + "</li>"
        for own in snapshot.personal_goals
    )
    return f"<h2>Personal goals</h2>\n<ul>\n{items}\n</ul>" if items else ""


def render_status_page(
    snapshot: Snapshot, *, refresh: int | None = None, grafana_url: str | None = None, timezone: tzinfo | None = None
) -> str:
    """Return the HTML of the status page for `snapshot`, its times in `timezone` (the configuration's)."""
    sources = {source.name: source for source in snapshot.sources}
    meta_refresh = ""
    if refresh is not None:
        seconds = min(MAX_REFRESH_SECONDS, max(MIN_REFRESH_SECONDS, refresh))
        meta_refresh = f'<meta http-equiv="refresh" content="{seconds}">'
    now = snapshot.generated_at
    local = now.astimezone(timezone) if timezone is not None else now
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">{meta_refresh}
<title>syncd: team pace</title><style>{_STYLE}</style></head>
<body>
<header><h1>syncd: who is on pace</h1>
<p>As of <time datetime="{escape(local.isoformat(timespec="seconds"))}">{escape(_when(local))}</time>.
<a href="?refresh=60">Refresh every minute</a> · <a href="/metrics">/metrics</a> ·
<a href="/api/v1/goals">/api/v1/goals</a> · <a href="/api/v1/openapi.json">API</a></p>
{_summary(snapshot, sources)}
</header>
<main>
{_goals_section(snapshot, sources, grafana_url)}
{_funnels_section(snapshot.funnels, snapshot.funnel_outcomes)}
{_personal_section(snapshot)}
{_sources_section(snapshot.sources, now)}
</main>
</body></html>
"""
