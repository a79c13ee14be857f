"""Find connector classes through the `syncd.connectors` entry-point group.

Built-in connectors register the same way a third-party package does. A connector that fails to
import is reported and skipped, so one broken plugin does not take the daemon down.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points

from connectors.base import Connector

__all__ = ["ConnectorRegistry", "load_registry"]

ENTRY_POINT_GROUP = "syncd.connectors"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectorRegistry:
    """The connector types this installation knows, and the ones that failed to load."""

    connectors: dict[str, type[Connector]]
    broken: dict[str, str]  # entry-point name -> why it failed to load

    def get(self, type_name: str) -> type[Connector] | None:
        return self.connectors.get(type_name)

    def names(self) -> list[str]:
        return sorted(self.connectors)


@cache
def load_registry() -> ConnectorRegistry:
    """Load every connector registered under the entry-point group, once per process."""
    connectors: dict[str, type[Connector]] = {}
    broken: dict[str, str] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry.load()
        except Exception as exc:  # a plugin's import error must not stop the daemon
            broken[entry.name] = f"{type(exc).__name__}: {exc}"
            log.warning("connector %r failed to load and is skipped: %s", entry.name, broken[entry.name])
            continue
        if not isinstance(loaded, type) or not all(
            hasattr(loaded, attr) for attr in ("type_name", "settings_model", "metrics", "collect", "check")
        ):
            broken[entry.name] = "does not implement the connector contract (connectors.base.Connector)"
            log.warning("connector %r is skipped: %s", entry.name, broken[entry.name])
            continue
        connectors[entry.name] = loaded
    return ConnectorRegistry(connectors=connectors, broken=broken)
