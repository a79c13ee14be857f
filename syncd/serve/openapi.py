"""The OpenAPI 3.1 description of syncd's HTTP API, served at `/api/v1/openapi.json`.

Written by hand beside the handlers (syncd/serve/api.py, push.py); a test validates the document and
every live response against it, so the two cannot drift. The push limits are the handler's own
constants (push.py, json_limits.py), not copies.
"""

from __future__ import annotations

from typing import Any

from syncd.serve.json_limits import MAX_JSON_DEPTH, MAX_NUMBER_CHARS
from syncd.serve.push import (
    MAX_BATCH_ITEMS,
    MAX_BODY_BYTES,
    MAX_NAME_CHARS,
    MAX_PROBLEMS,
    MAX_SUBJECT_CHARS,
    MAX_VALUE,
    MAX_YEARS,
)
from syncd.version import VERSION

__all__ = ["openapi_document"]

_NUMBER = {"type": "number"}
_NULLABLE_NUMBER = {"type": ["number", "null"]}
_TEXT = {"type": "string"}
_NULLABLE_TEXT = {"type": ["string", "null"]}
_STATUS = {"type": "string", "enum": ["achieved", "ahead", "on_pace", "behind"]}

_LEVEL = {"type": "string", "enum": ["month", "fortnight", "week"]}

GOAL: dict[str, Any] = {
    "type": "object",
    "required": [
        "kpi",
        "owner",
        "team",
        "period",
        "start",
        "deadline",
        "value",
        "target",
        "committed",
        "expected",
        "pace_ratio",
        "progress_ratio",
        "elapsed_ratio",
        "projected",
        "required_daily_rate",
        "buffer_days",
        "hit_probability",
        "status",
        "checkpoint",
        "source",
        "as_of",
        "notes",
        "data_complete",
    ],
    "properties": {
        "kpi": _TEXT,
        "owner": {**_TEXT, "description": "a person, or a team for a team-owned goal"},
        "team": _TEXT,
        "period": {**_TEXT, "description": "the current period's id: 2026-11, 2026-Q4, 2026-W48, ..."},
        "start": {**_TEXT, "format": "date-time"},
        "deadline": {**_TEXT, "format": "date-time", "description": "exclusive: 00:00 after the last day"},
        "value": _NUMBER,
        "target": _NUMBER,
        "committed": _NULLABLE_NUMBER,
        "expected": _NUMBER,
        "pace_ratio": _NUMBER,
        "progress_ratio": _NUMBER,
        "elapsed_ratio": {"type": "number", "minimum": 0, "maximum": 1},
        "projected": _NUMBER,
        "required_daily_rate": _NUMBER,
        "buffer_days": _NUMBER,
        "hit_probability": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
        "status": _STATUS,
        "checkpoint": {
            "type": ["object", "null"],
            "required": ["id", "target", "value"],
            "properties": {"id": _TEXT, "target": _NUMBER, "value": _NUMBER},
        },
        "checkpoints": {
            "type": "array",
            "description": "every check-in level's current check-in, coarsest first",
            "items": {
                "type": "object",
                "required": ["level", "id", "target", "value"],
                "properties": {"level": _LEVEL, "id": _TEXT, "target": _NUMBER, "value": _NUMBER},
            },
        },
        "source": {**_TEXT, "description": "the KPI's source; sources joined with + for a KPI over several"},
        "as_of": {**_TEXT, "format": "date-time"},
        "notes": {"type": "array", "items": _TEXT},
        "data_complete": {"type": "boolean", "description": "false while a backfill of its period is pending"},
    },
}

SOURCE: dict[str, Any] = {
    "type": "object",
    "required": ["name", "connector", "state", "up", "last_success", "interval_seconds", "last_error"],
    "properties": {
        "name": _TEXT,
        "connector": _TEXT,
        "state": {"type": "string", "enum": ["up", "down", "never synced"]},
        "up": {"type": ["boolean", "null"]},
        "last_success": {**_NULLABLE_TEXT, "format": "date-time"},
        "seconds_since_success": _NULLABLE_NUMBER,
        "interval_seconds": {
            **_NULLABLE_NUMBER,
            "description": "null for a push source without expect_every (nobody pushing is not a fault)",
        },
        "last_error": _NULLABLE_TEXT,
        "syncs_total": {"type": "integer"},
        "failures": {"type": "object", "additionalProperties": {"type": "integer"}},
        "rate_limit_remaining": _NULLABLE_NUMBER,
    },
}

_SCENARIOS = {name: _NUMBER for name in ("current", "domino_uplift", "ratio_uplift", "benchmark")}
FUNNEL: dict[str, Any] = {
    "type": "object",
    "required": ["funnel", "period", "domino", "uplift", "stages", "outcomes"],
    "properties": {
        "funnel": _TEXT,
        "period": _TEXT,
        "domino": _NULLABLE_TEXT,
        "uplift": _NULLABLE_NUMBER,
        "stages": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["from_step", "to_step", "owner", "team", "from_value", "to_value", "ratio"],
                "properties": {
                    "from_step": _TEXT,
                    "to_step": _TEXT,
                    "owner": _TEXT,
                    "team": _TEXT,
                    "from_value": _NUMBER,
                    "to_value": _NUMBER,
                    "ratio": _NULLABLE_NUMBER,
                    "benchmark_ratio": _NULLABLE_NUMBER,
                    "benchmark_owner": _NULLABLE_TEXT,
                },
            },
        },
        "outcomes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["owner", "team", "domino", "uplift", *_SCENARIOS],
                "properties": {"owner": _TEXT, "team": _TEXT, "domino": _TEXT, "uplift": _NUMBER, **_SCENARIOS},
            },
        },
    },
}


CHECKIN: dict[str, Any] = {
    "type": "object",
    "description": "a finished check-in's result, judged with the goal version in force during it",
    "required": [
        "kpi",
        "owner",
        "team",
        "source",
        "level",
        "checkpoint",
        "period",
        "first_day",
        "last_day",
        "target",
        "value",
        "unknown_days",
        "outcome",
        "final",
    ],
    "properties": {
        "kpi": _TEXT,
        "owner": _TEXT,
        "team": _TEXT,
        "source": _TEXT,
        "level": _LEVEL,
        "checkpoint": {**_TEXT, "description": "the check-in's id: 2026-W47, 2026-11, 2026-11-01..2026-11-14"},
        "period": {**_TEXT, "description": "the goal period it belongs to"},
        "first_day": {**_TEXT, "format": "date"},
        "last_day": {**_TEXT, "format": "date"},
        "target": _NUMBER,
        "value": _NUMBER,
        "unknown_days": {"type": "integer", "minimum": 0, "description": "days no source had synced"},
        "outcome": {"type": "string", "enum": ["hit", "missed", "incomplete"]},
        "final": {"type": "boolean", "description": "closed and synced past its lookback: never rewritten"},
    },
}

PROBLEM: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": _TEXT,
        "problems": {
            "type": "array",
            "items": _TEXT,
            "description": f"422: one line per bad item, the first {MAX_PROBLEMS}",
        },
    },
}

# The push body, as syncd.serve.push.ObservationBatch validates it, its limits taken from there (and
# from json_limits) so the two cannot drift. Names are stripped of Python's whitespace before their
# checks, so a name needs one character that is neither that nor a control.
_PY_SPACE = r"\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_CONTROL = r"\x00-\x1f\x7f"


def _name(max_length: int, description: str) -> dict[str, Any]:
    return {
        "type": "string",
        "pattern": f"^[^{_CONTROL}]*[^{_PY_SPACE}{_CONTROL}][^{_CONTROL}]*$",
        "maxLength": max_length,
        "description": description,
    }


_OFFSET = r"([Zz]|[+-](0[0-9]|1[0-3]):[0-5][0-9]|[+-]14:00)$"
OBSERVATION: dict[str, Any] = {
    "type": "object",
    "description": "one count; exactly one of day and at; mode add needs a key",
    "additionalProperties": False,
    "required": ["metric", "value"],
    "properties": {
        "metric": _name(MAX_NAME_CHARS, "the metric name a KPI reads"),
        "subject": _name(MAX_SUBJECT_CHARS, "who or what the count is for (default all)"),
        "day": {
            "type": ["string", "null"],
            "format": "date",
            "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            "description": f"the local day; within {MAX_YEARS} years of today",
        },
        "at": {
            "type": ["string", "null"],
            "format": "date-time",
            "pattern": _OFFSET,
            "description": "an instant with its UTC offset (within 14:00), counted on its day in the configured zone",
        },
        "value": {"type": "number", "minimum": 0, "maximum": MAX_VALUE},
        "mode": {"enum": ["set", "add"], "default": "set", "description": "set replaces the day's count, add adds"},
        "key": {
            **_name(MAX_NAME_CHARS, "the client's idempotency key: an add is applied once per key"),
            "type": ["string", "null"],
        },
    },
    "oneOf": [
        {"required": ["day"], "properties": {"day": {"type": "string"}, "at": {"type": "null"}}},
        {"required": ["at"], "properties": {"at": {"type": "string"}, "day": {"type": "null"}}},
    ],
    "if": {"required": ["mode"], "properties": {"mode": {"const": "add"}}},
    "then": {"required": ["key"], "properties": {"key": {"type": "string"}}},
}
OBSERVATIONS: dict[str, Any] = {
    "type": "object",
    "description": "applied all or none, in order, in one transaction",
    "additionalProperties": False,
    "required": ["observations"],
    "properties": {
        "observations": {
            "type": "array",
            "maxItems": MAX_BATCH_ITEMS,
            "items": {"$ref": "#/components/schemas/Observation"},
        }
    },
}
STORED: dict[str, Any] = {
    "type": "object",
    "required": ["stored", "duplicates"],
    "properties": {
        "stored": {"type": "integer", "minimum": 0},
        "duplicates": {"type": "integer", "minimum": 0, "description": "adds whose key was applied before"},
    },
}


def _size(size_bytes: int) -> str:
    """Say a byte count as people read a limit: 1 MiB, 512 KiB, 1,000 bytes."""
    for unit, power in (("MiB", 20), ("KiB", 10)):
        if size_bytes % (1 << power) == 0:
            return f"{size_bytes >> power:,} {unit}"
    return f"{size_bytes:,} bytes"


def _answer(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _list_of(name: str, summary: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {
                        "application/json": {
                            "schema": {"type": "array", "items": {"$ref": f"#/components/schemas/{name}"}}
                        }
                    },
                }
            },
        }
    }


def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of the API."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "syncd",
            "version": VERSION,
            "description": "Owned KPIs with goals, paced. Every GET reads the daemon's last evaluation.",
        },
        "paths": {
            "/api/v1/goals": _list_of("Goal", "Every goal's pace, as of the last evaluation"),
            "/api/v1/sources": _list_of("Source", "Every source's health"),
            "/api/v1/funnels": _list_of("Funnel", "Every funnel's stages, benchmarks and what-if outcomes"),
            "/api/v1/checkins": _list_of("Checkin", "Finished check-ins of each goal's current and previous period"),
            "/api/v1/sources/{name}/observations": {
                "post": {
                    "summary": "Push counts into a push source (bearer token of the source)",
                    "parameters": [{"name": "name", "in": "path", "required": True, "schema": _TEXT}],
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Observations"}}},
                    },
                    "responses": {
                        "200": _answer("stored", "Stored"),
                        "400": _answer(
                            f"malformed body, or JSON beyond the limits (nested deeper than {MAX_JSON_DEPTH} "
                            f"levels, a number longer than {MAX_NUMBER_CHARS} characters)",
                            "Problem",
                        ),
                        "401": _answer("missing or wrong token", "Problem"),
                        "404": _answer("no such push source", "Problem"),
                        "413": _answer(f"the body is larger than {_size(MAX_BODY_BYTES)}", "Problem"),
                        "422": _answer(
                            "a value is not acceptable (or the database refused it: do not retry)", "Problem"
                        ),
                        "503": _answer("storage unavailable: retry later", "Problem"),
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Goal": GOAL,
                "Source": SOURCE,
                "Funnel": FUNNEL,
                "Checkin": CHECKIN,
                "Problem": PROBLEM,
                "Observations": OBSERVATIONS,
                "Observation": OBSERVATION,
                "Stored": STORED,
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
