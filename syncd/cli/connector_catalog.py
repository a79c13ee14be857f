"""`syncd connectors`: each connector type with its settings (type, default, secret) and metrics."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_core import PydanticUndefined
from rich.console import Console
from rich.table import Table

from syncd.registry import load_registry

__all__ = ["describe_connectors", "render_catalog"]

_COMMON = ("connector", "api_key", "base_url", "interval", "lookback")


def _type_name(annotation: object) -> str:
    text = getattr(annotation, "__name__", None) or str(annotation)
    return text.replace("typing.", "").replace("NoneType", "None")


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
            default = None if info.default is PydanticUndefined else info.default
            settings.append(
                {
                    "name": field_name,
                    "type": _type_name(annotation),
                    "required": info.is_required(),
                    "default": None if secret else _plain(default),
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


def _plain(value: object) -> object:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "total_seconds"):
        return f"{int(value.total_seconds())}s"
    return str(value)


def render_catalog(catalog: list[dict[str, object]]) -> None:
    """Print the catalogue as one table per connector."""
    console = Console()
    for entry in catalog:
        if "broken" in entry:
            console.print(f"[bold red]{entry['type']}[/]: failed to load: {entry['broken']}")
            continue
        console.print(f"[bold]{entry['type']}[/]: {entry.get('description', '')}")
        table = Table(show_edge=False)
        for column in ("setting", "type", "default", "notes"):
            table.add_column(column)
        settings = entry["settings"]
        assert isinstance(settings, list)
        for setting in settings:
            notes = ", ".join(
                word
                for word, flag in (
                    ("required", setting["required"]),
                    ("secret", setting["secret"]),
                    ("common to all", setting["common"]),
                )
                if flag
            )
            default = setting["default"]
            table.add_row(setting["name"], setting["type"], "" if default is None else str(default), notes)
        console.print(table)
        metrics = entry["metrics"]
        assert isinstance(metrics, list)
        for metric in metrics:
            console.print(f"  metric [green]{metric['name']}[/] (subject: {metric['subject']}) {metric['description']}")
        console.print()
