"""What a SIGHUP changes: the difference between the running configuration and the new one.

The daemon applies the plan: only sources whose settings changed restart, a source whose
interval alone changed keeps its schedule (re-timed from its last sync, no sync at once), and
the rest keep running untouched, so a reload never starts a re-sync storm against the vendors.
What cannot change in a running process (the database, the listening socket, TLS switched on or
off) is kept as it was and named in `needs_restart`; the reload then counts as partial.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta

from syncd.model import Config, Source
from syncd.serve.web_config import WebConfig, load_web_config

__all__ = ["ReloadPlan", "keep_running_values", "load_web_config_of", "plan_reload"]


@dataclass(frozen=True)
class ReloadPlan:
    """Source names by what happens to them, and the keys that need a restart to take effect."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    restarted: tuple[str, ...] = ()  # settings other than the interval changed
    rescheduled: tuple[str, ...] = ()  # only the interval changed
    needs_restart: tuple[str, ...] = ()

    @property
    def partial(self) -> bool:
        """True when some change waits for a restart."""
        return bool(self.needs_restart)

    def summary(self) -> str:
        """One log line's worth: what moved, by name."""
        parts = [
            f"{label} {', '.join(names)}"
            for label, names in (
                ("added", self.added),
                ("removed", self.removed),
                ("restarted", self.restarted),
                ("rescheduled", self.rescheduled),
            )
            if names
        ]
        return "; ".join(parts) or "no source changed"


def _without_interval(source: Source) -> Source:
    settings = source.settings.model_copy(update={"interval": timedelta(0)})
    return dataclasses.replace(source, settings=settings)


def plan_reload(old: Config, new: Config, old_web: WebConfig, new_web: WebConfig) -> ReloadPlan:
    """Compare two configurations (and web configurations) and say what a reload must do."""
    restarted: list[str] = []
    rescheduled: list[str] = []
    for name, source in new.sources.items():
        before = old.sources.get(name)
        if before is None or before == source:
            continue
        if _without_interval(before) == _without_interval(source):
            rescheduled.append(name)
        else:
            restarted.append(name)
    needs_restart: list[str] = []
    if new.database_url != old.database_url:
        needs_restart.append("database_url")
    if (new.listen_host, new.listen_port) != (old.listen_host, old.listen_port):
        needs_restart.append("listen")
    # A new certificate is loaded into the running TLS context; switching TLS on or off is not.
    if (old_web.cert_file is None) != (new_web.cert_file is None):
        needs_restart.append("web_config_file tls_server_config")
    return ReloadPlan(
        added=tuple(name for name in new.sources if name not in old.sources),
        removed=tuple(name for name in old.sources if name not in new.sources),
        restarted=tuple(restarted),
        rescheduled=tuple(rescheduled),
        needs_restart=tuple(needs_restart),
    )


def keep_running_values(new: Config, old: Config) -> Config:
    """Return `new` with the values a running process cannot change taken from `old`."""
    if (new.database_url, new.listen_host, new.listen_port) == (old.database_url, old.listen_host, old.listen_port):
        return new
    return dataclasses.replace(
        new, database_url=old.database_url, listen_host=old.listen_host, listen_port=old.listen_port
    )


def load_web_config_of(config: Config) -> WebConfig:
    """Read the configuration's web config file now (none: plain HTTP without auth)."""
    return load_web_config(config.web_config_file) if config.web_config_file else WebConfig()
