"""`syncd connectors`: each connector type with its settings (type, default, note) and metrics."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from rich.console import Console
from rich.table import Table

from syncd.config_reference import describe_type, format_default
from syncd.registry import load_registry

__all__ = ["describe_connectors", "render_catalog"]

_COMMON = ("connector", "api_key", "base_url", "interval", "lookback")


def _type_words(info: FieldInfo) -> str:
    """The type as the configuration reference words it, minus its Markdown (backticks, escaped bars)."""
    annotation: Any = info.annotation
    if info.metadata:
        # Durations are `Annotated[timedelta, ...]` once pydantic has split off the metadata.
        annotation = typing.Annotated[(annotation, *info.metadata)]
    return describe_type(annotation).replace("\\|", "|").replace("`", "")


def _default_words(info: FieldInfo) -> str | None:
    if info.default_factory is not None:
        return format_default(info.default_factory())  # type: ignore[call-arg]
    if info.default is PydanticUndefined:
        return None
    return format_default(info.default)


def describe_connectors() -> list[dict[str, object]]:
    """Return every installed connector's description as plain data."""
    registry = load_registry()
    out: list[dict[str, object]] = []
    for name in registry.names():
        cls = registry.connectors[name]
        settings = []
        for field_name, info in cls.settings_model.model_fields.items():
            if field_name == "connector":
                continue
            annotation = info.annotation
            secret = "SecretStr" in str(annotation) or annotation is SecretStr
            settings.append(
                {
                    "name": field_name,
                    "type": _type_words(info),
                    "required": info.is_required(),
                    "default": None if secret else _default_words(info),
                    "secret": secret,
                    "common": field_name in _COMMON,
                    "description": info.description or "",
                }
            )
        out.append(
            {
                "type": name,
                "description": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "",
                "settings": settings,
                "metrics": [{"name": m.name, "subject": m.subject, "description": m.description} for m in cls.metrics],
            }
        )
    for name, why in registry.broken.items():
        out.append({"type": name, "broken": why, "settings": [], "metrics": []})
    return out


def _note(setting: dict[str, Any]) -> str:
    note = str(setting["description"])
    # Some descriptions already say "(secret)"; a flag is added only where the note does not carry it.
    flags = [word for word in ("required", "secret") if setting[word] and f"({word})" not in note]
    return f"{note} ({', '.join(flags)})" if flags else note


def render_catalog(catalog: list[dict[str, object]]) -> None:
    """Print the catalogue as one table per connector, folding (never cutting) long cells."""
    console = Console()
    for entry in catalog:
        if "broken" in entry:
            console.print(f"[bold red]{entry['type']}[/]: failed to load: {entry['broken']}")
            continue
        console.print(f"[bold]{entry['type']}[/]: {entry.get('description', '')}")
        table = Table(show_edge=False, expand=False)
        table.add_column("setting", overflow="fold")
        table.add_column("type", overflow="fold", ratio=2)
        table.add_column("default", overflow="fold", ratio=1)
        table.add_column("note", overflow="fold", ratio=3)
        settings = entry["settings"]
        assert isinstance(settings, list)
        for setting in settings:
            default = setting["default"]
            table.add_row(setting["name"], setting["type"], "" if default is None else str(default), _note(setting))
        console.print(table)
        metrics = entry["metrics"]
        assert isinstance(metrics, list)
        for metric in metrics:
            console.print(f"  metric [green]{metric['name']}[/] (subject: {metric['subject']}) {metric['description']}")
        console.print()
