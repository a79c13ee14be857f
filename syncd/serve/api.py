"""The JSON API (`/api/v1/...`): the snapshot's goals, sources and funnels, rounded for people.

Every handler reads the current immutable snapshot only, never the database. Numbers are rounded
once here (`tidy`), so 0.9999999999999998 reads 1.0 and 1.2e-149 reads 0.0 in every client.
"""

from __future__ import annotations

import json
import math
from datetime import datetime

from aiohttp import web

from syncd.engine.snapshot import GoalStatus, Snapshot, SnapshotHolder, SourceStatus, funnels_json
from syncd.serve.checkin_view import checkins_json
from syncd.serve.openapi import openapi_document

__all__ = ["api_routes", "goal_json", "goals_json", "source_json", "sources_json", "tidy"]

# Significant digits kept: enough for any count or ratio a person reads, none of the float noise.
_DIGITS = 10


def tidy(value: object) -> object:
    """Round every float in a JSON-ready value to what it means (nested lists and dicts too)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if abs(value) < 1e-9:
            return 0.0
        return float(f"{value:.{_DIGITS}g}")
    if isinstance(value, dict):
        return {key: tidy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [tidy(item) for item in value]
    return value


def goal_json(goal: GoalStatus, as_of: datetime) -> dict[str, object]:
    """Return one goal as the API shows it: the `status --format json` keys plus context."""
    data = goal.as_json()
    data.update(
        {
            "source": goal.source,
            "as_of": as_of.isoformat(timespec="seconds"),
            "notes": list(goal.notes),
            # A goal whose period is still being backfilled has no trustworthy figures yet.
            "data_complete": bool(getattr(goal, "data_complete", True)),
        }
    )
    return data


def goals_json(snapshot: Snapshot) -> list[object]:
    """Return every goal of the snapshot, tidied."""
    return [tidy(goal_json(goal, snapshot.generated_at)) for goal in snapshot.goals]


def source_json(source: SourceStatus, as_of: datetime) -> dict[str, object]:
    """Return one source's health as the API shows it."""
    last = source.last_success
    return {
        "name": source.name,
        "connector": source.connector,
        "state": "never synced" if source.up is None else ("up" if source.up else "down"),
        "up": source.up,
        "last_success": None if last is None else last.isoformat(timespec="seconds"),
        # Whole seconds, as precise as last_success beside it (19.752893 was noise).
        "seconds_since_success": None if last is None else max(0, round((as_of - last).total_seconds())),
        "interval_seconds": source.interval_seconds,
        "last_error": source.last_error,
        "syncs_total": source.syncs_total,
        "failures": dict(source.failures),
        "rate_limit_remaining": source.rate_limit_remaining,
    }


def sources_json(snapshot: Snapshot) -> list[object]:
    """Return every source's health, tidied."""
    return [tidy(source_json(source, snapshot.generated_at)) for source in snapshot.sources]


def _json(data: object) -> web.Response:
    return web.Response(text=json.dumps(data, indent=2), content_type="application/json")


def api_routes(holder: SnapshotHolder) -> list[web.RouteDef]:
    """Return the read-only API's routes over `holder`'s current snapshot."""

    async def goals(request: web.Request) -> web.Response:
        # ?kpi=&owner= narrow the list: the status page links each goal to its own JSON.
        wanted = {key: request.query[key] for key in ("kpi", "owner", "team") if key in request.query}
        rows = goals_json(holder.current)
        return _json([r for r in rows if isinstance(r, dict) and all(r.get(k) == v for k, v in wanted.items())])

    async def sources(_: web.Request) -> web.Response:
        return _json(sources_json(holder.current))

    async def funnels(_: web.Request) -> web.Response:
        return _json(tidy(funnels_json(holder.current)))

    async def checkins(request: web.Request) -> web.Response:
        # ?owner= a person, or a team (its own goals and its members'); the previous period shows too
        return _json(tidy(checkins_json(holder.current, request.query.get("owner"), previous_period=True)))

    async def openapi(_: web.Request) -> web.Response:
        return _json(openapi_document())

    return [
        web.get("/api/v1/goals", goals),
        web.get("/api/v1/sources", sources),
        web.get("/api/v1/funnels", funnels),
        web.get("/api/v1/checkins", checkins),
        web.get("/api/v1/openapi.json", openapi),
    ]
