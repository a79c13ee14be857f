"""The configuration reference, generated from the models that validate the file.

`python -m syncd.config_reference > docs/configuration-reference.md` writes it; a test checks the
file matches and that every key has a description, so a new key cannot ship undocumented. Types and
defaults are written the way a configuration writes them (`15m`, not `0:15:00` or `900s`).
"""

from __future__ import annotations

import types
import typing
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from syncd.config_schema import (
    RawConfig,
    RawCustomPeriod,
    RawFunnel,
    RawGoal,
    RawKpi,
    RawPerson,
    RawPersonalGoal,
    RawRetention,
    RawTeam,
    RawWeights,
)
from syncd.registry import load_registry

__all__ = ["describe_type", "format_default", "reference_markdown"]

# Section -> (model, what one entry is). Descriptions of the core keys live here, beside the walk,
# so that the schema module stays about validation.
SECTIONS: list[tuple[str, type[BaseModel], str]] = [
    ("top level", RawConfig, "the file itself"),
    ("teams.<name>", RawTeam, "a team"),
    ("people.<name>", RawPerson, "a person"),
    ("people.<name>.personal_goals[]", RawPersonalGoal, "a personal goal"),
    ("kpis.<name>", RawKpi, "a KPI: one metric of one source, owned per person or per team"),
    ("goals[]", RawGoal, "a goal: a KPI's target for an owner over a period"),
    ("funnels.<name>", RawFunnel, "a funnel: KPIs that feed one another, first step first"),
    ("retention", RawRetention, "how long rows that serve only for a while are kept; daily counts are kept forever"),
    ("period: {start, end}", RawCustomPeriod, "a custom period, both days included"),
    ("pacing: {weights}", RawWeights, "a custom pacing curve"),
]

DESCRIPTIONS: dict[str, str] = {
    "RawConfig.timezone": "IANA zone of day buckets and period boundaries",
    "RawConfig.week_start": "first day of `week` periods and check-ins",
    "RawConfig.fortnight_anchor": "`fortnight` periods count 14-day steps from this day",
    "RawConfig.holidays": "days `business_days` pacing skips",
    "RawConfig.database_url": "`sqlite:///FILE` or `postgresql+psycopg://user:pass@host/db` (env SYNCD_DATABASE_URL)",
    "RawConfig.listen": "HOST:PORT of /metrics, /healthz, /readyz, the status page and the API (env SYNCD_LISTEN)",
    "RawConfig.web_config_file": "TLS and basic auth, in the Prometheus exporter-toolkit web config format",
    "RawConfig.auto_backfill": "fetch in the background the history a goal's period, curve or forecast needs",
    "RawConfig.grafana_url": "Grafana's root URL: the status page links each goal to its panel there",
    "RawConfig.lease": (
        "replicas on PostgreSQL: how long a source lease lasts unrenewed; "
        "a dead replica's sources move to the others within about 4/3 of it"
    ),
    "RawConfig.shard": (
        "`INDEX/COUNT` (`2/4`) or `ordinal/COUNT` (from the StatefulSet ordinal): "
        "serve only this shard's goals (env SYNCD_SHARD)"
    ),
    "RawConfig.retention": "how long push receipts and replaced goal versions are kept (below)",
    "RawConfig.teams": "team name -> its settings",
    "RawConfig.people": "person name -> their settings",
    "RawConfig.sources": "source name -> one connected account: `connector` plus its settings (below)",
    "RawConfig.kpis": "KPI name -> what it counts",
    "RawConfig.goals": "the goals, a list",
    "RawConfig.funnels": "funnel name -> its steps",
    "RawTeam.head": "the person who hears about every goal of the team",
    "RawPerson.team": "the team the person belongs to (a team owns the sum of its members)",
    "RawPerson.personal_goals": "what the person works towards for themselves, shown with their goals and alerts",
    "RawPersonalGoal.text": 'in their words: "family holiday in June when the Q2 bonus is hit"',
    "RawPersonalGoal.by": "when, if it has a date",
    "RawPersonalGoal.kpis": "the KPIs it rests on",
    "RawPerson.identities": "source name -> how the person appears there (an email, a user id; several allowed)",
    "RawKpi.source": "the source the KPI reads, or a list of them whose counts it sums (label: names joined by `+`)",
    "RawKpi.metric": "the connector metric it counts (see `syncd connectors`)",
    "RawKpi.description": "what the KPI means, for people",
    "RawKpi.per_person": "split by `people.*.identities.<source>`; else one series for the whole source",
    "RawKpi.unit": "what one count is (`emails`, `calls`), shown with values",
    "RawKpi.kind": "`flow`: counts summed over the period; `stock`: a level, the latest value counts",
    "RawGoal.kpi": "the KPI",
    "RawGoal.owner": "a person or a team",
    "RawGoal.period": "a recurring period, or `{start, end}`",
    "RawGoal.target": "the figure to reach by the deadline (or `committed` × (1 + `stretch`))",
    "RawGoal.committed": "the owner's own estimate",
    "RawGoal.stretch": "raises `committed` into the target: 0.30 is +30%",
    "RawGoal.pacing": "the curve `expected` follows: `linear`, `business_days`, `history` or `{weights}`",
    "RawGoal.checkins": "sub-goals the period is split into: a level or a list of levels, each shorter than the period",
    "RawGoal.tolerance": "the `on_pace` band around a pace ratio of 1",
    "RawGoal.baseline": "for a stock: the level the period starts from",
    "RawGoal.direction": "`at_most` for a level to stay under (costs, churn)",
    "RawFunnel.steps": "KPI names, first step first",
    "RawFunnel.period": "the period conversions are measured over",
    "RawFunnel.min_volume": "an owner needs this many at a stage's entry to be its benchmark",
    "RawFunnel.domino": "the step that drives the rest (default: the first); its growth is the first what-if",
    "RawFunnel.uplift": "the growth the what-ifs assume: 0.10 is +10% (syncd_funnel_outcome)",
    "RawRetention.push_receipts": (
        "an `add` counts once per idempotency key within this age (a retry later adds again); "
        "at least 1d, `never` (or 0) keeps receipts forever"
    ),
    "RawRetention.goal_versions": (
        "replaced goal versions older than this (since replaced) are pruned, except those the current and "
        "previous period's check-ins are judged with; the version in force is always kept; `never` (or 0) keeps all"
    ),
    "RawCustomPeriod.start": "first day",
    "RawCustomPeriod.end": "last day (included)",
    "RawWeights.weights": "weekday or month name -> weight (0 skips it)",
}


def format_default(value: object) -> str:
    """Return a default as a configuration file would write it."""
    if value is PydanticUndefined:
        return ""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, BaseModel):
        # A nested section's defaults, in flow-style YAML.
        items = ", ".join(f"{name}: {format_default(getattr(value, name))}" for name in type(value).model_fields)
        return "{" + items + "}"
    if value == "":
        return '""'
    if isinstance(value, list | tuple | dict) and not value:
        return "{}" if isinstance(value, dict) else "[]"
    return str(value)


def format_duration(value: timedelta) -> str:
    """Return the largest exact unit: 15m, 3d, 90s."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def describe_type(annotation: Any) -> str:
    """Return a type in the configuration's words: `15m`-style durations, choices, lists, maps."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        base = args[0]
        if base is timedelta:
            return "duration (30s, 15m, 1h, 3d)"
        if base == timedelta | None:
            # An age that may also be `never` (syncd.config_schema.RetentionAge).
            return "duration (30s, 15m, 1h, 3d) \\| `never`"
        return describe_type(base)
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        parts = [describe_type(a) for a in args if a is not type(None)]
        return " \\| ".join(dict.fromkeys(parts))
    if origin in (list, tuple):
        return f"list of {describe_type(args[0])}" if args else "list"
    if origin is dict:
        return f"map of {describe_type(args[1])}" if args else "map"
    if annotation is Any:
        return "settings"
    if annotation is SecretStr:
        return "secret text"
    if getattr(annotation, "__name__", None) == "JsonValue":
        return "JSON value"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    names = {str: "text", int: "integer", float: "number", bool: "true/false", date: "date (YYYY-MM-DD)"}
    names[timedelta] = "duration (30s, 15m, 1h, 3d)"
    if annotation in names:
        return names[annotation]
    return getattr(annotation, "__name__", str(annotation))


def _rows(model: type[BaseModel], descriptions: dict[str, str], key: str) -> list[str]:
    rows = []
    for name, info in model.model_fields.items():
        description = (descriptions.get(f"{key}.{name}") or info.description or "").replace("|", "\\|")
        rows.append(
            f"| `{name}` | {_type_of(info)} | {'yes' if info.is_required() else ''} | "
            f"{_default_of(info)} | {description} |"
        )
    return rows


def _type_of(info: FieldInfo) -> str:
    annotation: Any = info.annotation
    if info.metadata:
        annotation = typing.Annotated[(annotation, *info.metadata)]
    return describe_type(annotation)


def _default_of(info: FieldInfo) -> str:
    if info.default_factory is not None:
        return f"`{format_default(info.default_factory())}`"  # type: ignore[call-arg]
    return f"`{format_default(info.default)}`" if info.default is not PydanticUndefined else ""


def undocumented() -> list[str]:
    """Return every core or connector key that has no description."""
    missing = [
        f"{model.__name__}.{name}"
        for _, model, _ in SECTIONS
        for name in model.model_fields
        if not DESCRIPTIONS.get(f"{model.__name__}.{name}") and not model.model_fields[name].description
    ]
    registry = load_registry()
    for connector in registry.names():
        settings = registry.connectors[connector].settings_model
        missing += [f"{connector}.{n}" for n, info in settings.model_fields.items() if not info.description]
    return missing


def reference_markdown() -> str:
    """Return the whole reference as Markdown."""
    header = "| key | type | required | default | meaning |\n| --- | --- | --- | --- | --- |"
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated by `python -m syncd.config_reference > docs/configuration-reference.md` from the "
        "models that validate the file: do not edit. -->",
        "",
        "Every key syncd reads, section by section. [configuration.md](configuration.md) shows them in a "
        "file that loads as it is; `syncd check --offline` validates yours.",
    ]
    for title, model, what in SECTIONS:
        lines += ["", f"## `{title}`", "", f"{what[0].upper()}{what[1:]}.", "", header]
        lines += _rows(model, DESCRIPTIONS, model.__name__)
    registry = load_registry()
    lines += [
        "",
        "## `sources.<name>`, per connector",
        "",
        "Every source names its `connector`; these keys come with it (`syncd connectors` prints the same).",
    ]
    for connector in registry.names():
        cls = registry.connectors[connector]
        summary = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        lines += ["", f"### `{connector}`", "", summary, "", header]
        lines += [row for row in _rows(cls.settings_model, {}, connector) if not row.startswith("| `connector`")]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(reference_markdown(), end="")
