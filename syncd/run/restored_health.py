"""Seed the in-memory source health from the stored source state when the daemon starts.

Without it a restarted daemon reports no last success (and no up/down) for a source until its
next sync ends, though the database knows how the last one went: freshness alerts would see a
gap, and the status page "never synced".
"""

from __future__ import annotations

from collections.abc import Mapping

from syncd.run.source_stats import SourceStats
from syncd.store import SourceState

__all__ = ["restore_source_health"]


def restore_source_health(stats: Mapping[str, SourceStats], states: Mapping[str, SourceState]) -> None:
    """Give every source not yet synced by this process its stored last success, outcome and error."""
    for name, source_stats in stats.items():
        state = states.get(name)
        if state is None or not source_stats.pulled or source_stats.up is not None:
            continue  # never attempted, a push source (see push_health), or this process knows better
        source_stats.last_success = state.last_success_at
        # The stored row says how the last attempt ended: a success resets the failure streak.
        source_stats.up = state.consecutive_failures == 0 and state.last_success_at is not None
        source_stats.last_error = state.last_error
