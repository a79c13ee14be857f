"""Health of push sources: up while pushes are accepted, last success = last accepted push.

A push source is never pulled, so a sync's success means nothing for it. Its last accepted push
is stored with the counts (by the HTTP endpoint and by `syncd record`, from any process), and the
daemon reads it back on each evaluation tick, so a restart or a push from another process shows.
Its interval is `expect_every` when set; without it there is no interval series at all, so
SyncdSourceStale cannot fire for a source that simply has had nothing to say.
"""

from __future__ import annotations

from collections.abc import Mapping

from syncd.model import Source
from syncd.registry import load_registry
from syncd.run.source_stats import SourceStats
from syncd.store.repository import SourceState

__all__ = ["apply_push_states", "is_push", "new_stats", "refresh_interval"]


def is_push(source: Source) -> bool:
    """True when the source's connector is not pulled (its counts arrive over HTTP or `syncd record`)."""
    return not getattr(load_registry().get(source.connector), "pull", True)


def _interval(source: Source) -> float | None:
    if not is_push(source):
        return source.interval_seconds
    expect_every = getattr(source.settings, "expect_every", None)
    return expect_every.total_seconds() if expect_every is not None else None


def new_stats(source: Source) -> SourceStats:
    """Return fresh stats for a source; a push source starts up, as its endpoint accepts pushes."""
    if is_push(source):
        return SourceStats(source.name, source.connector, _interval(source), up=True, pulled=False)
    return SourceStats(source.name, source.connector, source.interval_seconds)


def refresh_interval(stats: SourceStats, source: Source) -> None:
    """Follow a reloaded source's interval (or `expect_every`) at once."""
    stats.interval_seconds = _interval(source)


def apply_push_states(stats: Mapping[str, SourceStats], states: Mapping[str, SourceState]) -> None:
    """Take each push source's last accepted push from storage (a restart, another process)."""
    for name, source_stats in stats.items():
        state = states.get(name)
        if source_stats.pulled or state is None or state.last_success_at is None:
            continue
        # Only a newer push says pushes are accepted again; an old one must not undo a refusal.
        if source_stats.last_success is None or state.last_success_at > source_stats.last_success:
            source_stats.record_push(state.last_success_at)
