"""Fill in, in the background, the history goals need but the store does not have yet.

A goal added later (a month goal added mid-month), a `pacing: history` curve or the forecast's
trailing weeks can reach back before the first day a source has stored without a gap (its
coverage, syncd.store.coverage_repository). The daemon then backfills that source newest-first,
one chunk at a time, through its long-lived connector (so the vendor's rate limit holds across
normal syncs and chunks), and keeps the goals whose numbers are still being filled in marked
incomplete (`syncd_goal_data_complete` 0) so no alert pages on them. Each chunk extends the
coverage in the same transaction as its counts, so a restart resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from connectors.base import SyncWindow, local_day
from syncd.clock import sleep_periodic
from syncd.engine.evaluate import STOCK_HISTORY, counts_needed, needs_shape, period_at
from syncd.engine.history_pacing import HISTORY_LOOKBACK
from syncd.engine.snapshot import GoalStatus
from syncd.errors import StorageError
from syncd.model import Config, Goal, PeriodSpec
from syncd.registry import load_registry
from syncd.run.backfill import CHUNK_DAYS, CHUNK_DEADLINE_SECONDS
from syncd.run.source_stats import SourceStats
from syncd.run.sync import local_midnight_of, sync_window
from syncd.store import load_source_states
from syncd.store.coverage_repository import load_coverage
from syncd.store.executor import run_db

if TYPE_CHECKING:
    from syncd.run.daemon import Daemon

__all__ = [
    "AutoBackfiller",
    "BackfillNeed",
    "goal_data_complete",
    "next_chunk",
    "plan_backfills",
    "source_needs",
]

log = logging.getLogger(__name__)

# With nothing to backfill, look again this often (a sync or a reload also wakes the planner).
IDLE_SECONDS = 60.0
# After a failed chunk, leave the source to its normal syncs for a while before trying again.
RETRY_SECONDS = 300.0
# A storage failure (SQLite busy with a sync committing) passes quickly: try again soon.
STORAGE_RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class BackfillNeed:
    """Days a source lacks: from `first_day` up to the day before `covered_from`."""

    source: str
    first_day: date
    covered_from: date | None  # None: the source has never stored a sync

    def remaining_days(self, today: date) -> int:
        """Return how many days are still to be read (every day through today before a first sync)."""
        end = self.covered_from if self.covered_from is not None else today + timedelta(days=1)
        return max(0, (end - self.first_day).days)


def _pulled_sources(config: Config) -> dict[str, timedelta | None]:
    """Return each source syncd pulls, with its vendor's history limit; push sources have no history to read."""
    registry = load_registry()
    pulled: dict[str, timedelta | None] = {}
    for name, source in config.sources.items():
        cls = registry.get(source.connector)
        if cls is not None and getattr(cls, "pull", True):
            pulled[name] = cls.history_limit
    return pulled


def _oldest_available(limit: timedelta | None, config: Config, now: datetime) -> date | None:
    # Same rule as syncd.run.backfill.plan_chunks: the vendor keeps the days after now - limit.
    return None if limit is None else local_day(now - limit, config.timezone) + timedelta(days=1)


def source_needs(config: Config, now: datetime) -> dict[str, date]:
    """Return, for each pulled source, the oldest day its goals and funnels need, within its vendor's history."""
    pulled = _pulled_sources(config)
    needs: dict[str, date] = {}

    def need(source: str, day: date) -> None:
        if source in pulled:
            needs[source] = min(day, needs.get(source, day))

    seen: set[Hashable] = set()
    for goal in config.goals:
        shape = needs_shape(goal)
        if shape in seen:  # goals of one shape need the same days
            continue
        seen.add(shape)
        first = counts_needed(config, now, [goal]).first_day
        for source in config.kpis[goal.kpi].sources:
            need(source, first)
    for funnel in config.funnels.values():
        first = period_at(config, funnel.period, now).first_day
        for step in funnel.steps:
            for source in config.kpis[step].sources:
                need(source, first)
    for source, day in needs.items():
        oldest = _oldest_available(pulled[source], config, now)
        if oldest is not None and day < oldest:
            needs[source] = oldest
    return needs


def plan_backfills(config: Config, coverage: Mapping[str, date], now: datetime) -> dict[str, BackfillNeed]:
    """Return the sources whose stored history starts after the oldest day their goals need."""
    return {
        source: BackfillNeed(source, first, coverage.get(source))
        for source, first in source_needs(config, now).items()
        if coverage.get(source) is None or coverage[source] > first
    }


def _complete_from(config: Config, goal: Goal, now: datetime) -> date:
    """Return the first day the goal's value and curve depend on (the forecast's weeks excluded)."""
    first = period_at(config, goal.period, now).first_day
    kind = config.kpis[goal.kpi].kind
    if kind == "stock":
        first -= STOCK_HISTORY
    if goal.pacing == "history":
        first = min(first, period_at(config, goal.period, now).first_day - HISTORY_LOOKBACK)
    return first


def goal_data_complete(
    config: Config,
    goal: Goal,
    coverage: Mapping[str, date],
    now: datetime,
    pulled: Mapping[str, timedelta | None] | None = None,
) -> bool:
    """Return False while a pulled source of the goal lacks days its period (or its history curve) needs.

    The forecast's trailing weeks are backfilled too but do not count here: they only move the
    hit probability, and the goal's alerts should not stay muted for that. `pulled` is
    `_pulled_sources(config)`, passed in when asking for every goal (it walks every source).
    """
    pulled = _pulled_sources(config) if pulled is None else pulled
    needed = _complete_from(config, goal, now)
    for source in config.kpis[goal.kpi].sources:
        if source not in pulled:
            continue
        oldest = _oldest_available(pulled[source], config, now)
        covered = coverage.get(source)
        if covered is None or covered > (needed if oldest is None else max(needed, oldest)):
            return False
    return True


def next_chunk(config: Config, need: BackfillNeed, now: datetime, *, date_filter: bool = True) -> SyncWindow:
    """Return the next window to read: the week before the covered days (all of the gap without a date filter)."""
    if need.covered_from is None:
        raise ValueError(f"{need.source} has not synced yet: its first sync reads the goals' periods")
    first = need.first_day if not date_filter else max(need.first_day, need.covered_from - timedelta(days=CHUNK_DAYS))
    end = min(local_midnight_of(need.covered_from, config), now)
    return SyncWindow(start=local_midnight_of(first, config), end=end, timezone=config.timezone)


class _BackfillStats(SourceStats):
    """Outcomes of backfill chunks kept apart from the source's syncs; its HTTP traffic still counts."""

    def __init__(self, main: SourceStats) -> None:
        super().__init__(main.name, main.connector, main.interval_seconds)
        self._main = main

    def on_response(self, code: str) -> None:
        self._main.on_response(code)

    def on_rate_limit_remaining(self, remaining: float) -> None:
        self._main.on_rate_limit_remaining(remaining)


class AutoBackfiller:
    """The daemon's background backfill: plans from coverage, reads one chunk at a time, reports."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon
        self.coverage: dict[str, date] = {}
        self._retry_at: dict[str, float] = {}
        self._turn = 0
        self._wake = asyncio.Event()
        # The last `_incomplete` answer with the configuration, coverage and day it was worked out for.
        self._marks: tuple[Config, dict[str, date], date, frozenset[tuple[str, str, str]]] | None = None

    def wake(self) -> None:
        """Look for work now (a sync may have set a source's first coverage; a reload may add goals)."""
        self._wake.set()

    def remaining_days(self, now: datetime, config: Config | None = None) -> dict[str, int]:
        """Return, per pulled source, the days still to backfill (0 when none), for `config` (default: the daemon's)."""
        config = self._daemon.config if config is None else config
        if not config.auto_backfill:
            return {}
        today = local_day(now, config.timezone)
        needs = plan_backfills(config, self.coverage, now)
        return {
            source: needs[source].remaining_days(today) if source in needs else 0 for source in _pulled_sources(config)
        }

    def mark(
        self, goals: tuple[GoalStatus, ...], now: datetime, config: Config | None = None
    ) -> tuple[GoalStatus, ...]:
        """Return the goals with `data_complete` set from the current coverage, for `config` (default: the daemon's)."""
        config = self._daemon.config if config is None else config
        if not config.auto_backfill:
            return goals  # switched off: history is the operator's (syncd backfill), figures as they are
        incomplete = self._incomplete(config, now)
        out: list[GoalStatus] = []
        for status in goals:
            flag = (status.kpi, status.owner, status.period) not in incomplete
            out.append(status if flag == status.data_complete else replace(status, data_complete=flag))
        return tuple(out)

    def _incomplete(self, config: Config, now: datetime) -> frozenset[tuple[str, str, str]]:
        """Return the (KPI, owner, period id) of goals still lacking history: worked out once per coverage and day.

        Every evaluation marks every goal; at 10,000 goals walking them all each time was a quarter
        of the daemon's CPU at rest.
        """
        coverage, today = self.coverage, local_day(now, config.timezone)
        kept = self._marks
        if kept is not None and kept[0] is config and kept[1] is coverage and kept[2] == today:
            return kept[3]
        pulled = _pulled_sources(config)  # once, not per goal: 1,000 goals over 1,000 sources
        by_shape: dict[Hashable, bool] = {}
        period_ids: dict[PeriodSpec, str] = {}
        incomplete: set[tuple[str, str, str]] = set()
        for goal in config.goals:
            # Completeness depends on the days the goal needs, not its owner: once per shape.
            shape = needs_shape(goal)
            flag = by_shape.get(shape)
            if flag is None:
                flag = by_shape[shape] = goal_data_complete(config, goal, coverage, now, pulled)
            if not flag:
                period_id = period_ids.get(goal.period)
                if period_id is None:
                    period_id = period_ids[goal.period] = period_at(config, goal.period, now).id
                incomplete.add((goal.kpi, goal.owner, period_id))
        found = frozenset(incomplete)
        self._marks = (config, coverage, today, found)
        return found

    async def refresh(self) -> bool:
        """Re-read the coverage; return True when it changed."""
        coverage = await run_db(load_coverage, self._daemon.engine)
        changed = coverage != self.coverage
        self.coverage = coverage
        return changed

    async def step(self) -> bool:
        """Read one chunk of one source that lacks history; return True when one was stored."""
        daemon = self._daemon
        if not daemon.config.auto_backfill:
            return False
        if await self.refresh():
            await daemon.evaluate(refreshed=())  # completeness moved (a first sync, another process)
        now = daemon.clock.now()
        ready = [
            need
            for name, need in sorted(plan_backfills(daemon.config, self.coverage, now).items())
            if need.covered_from is not None
            and self._retry_at.get(name, float("-inf")) <= daemon.clock.monotonic()
            # Replicas on PostgreSQL: only the one holding the source's lease reads it.
            and daemon.leases.holds(name)
        ]
        if not ready:
            return False
        # Round robin: one source waiting on its vendor's rate limit does not starve the others.
        need = ready[self._turn % len(ready)]
        self._turn += 1
        return await self._read_chunk(need, now)

    async def _read_chunk(self, need: BackfillNeed, now: datetime) -> bool:
        daemon = self._daemon
        config = daemon.config
        source = config.sources[need.source]
        cls = load_registry().get(source.connector)
        window = next_chunk(config, need, now, date_filter=getattr(cls, "date_filter", True))
        states = await run_db(load_source_states, daemon.engine)
        stats = _BackfillStats(daemon.stats[need.source])
        outcome = await sync_window(
            config,
            source,
            daemon.engine,
            daemon.clock,
            stats,
            window,
            states.get(need.source),
            deadline=CHUNK_DEADLINE_SECONDS,
            pool=daemon.connectors,
            fence=daemon.leases.fence(need.source),
        )
        if not outcome.ok:
            delay = STORAGE_RETRY_SECONDS if outcome.reason == "storage" else RETRY_SECONDS
            self._retry_at[need.source] = daemon.clock.monotonic() + delay
            log.warning(
                "backfill of %s stopped at %s, retrying in %.0f s: %s",
                need.source,
                window.first_day,
                delay,
                outcome.error,
            )
            return False
        await self.refresh()
        left = plan_backfills(config, self.coverage, now).get(need.source)
        today = local_day(now, config.timezone)
        log.info(
            "backfill of %s: stored %s..%s, %d days left",
            need.source,
            window.first_day,
            window.last_day,
            0 if left is None else left.remaining_days(today),
        )
        keys = tuple(key for kpi in config.kpis.values() for key in kpi.count_keys if key[0] == need.source)
        await daemon.evaluate(refreshed=keys if outcome.changed else ())
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Backfill chunk after chunk while there is work; otherwise wait to be woken or for IDLE_SECONDS."""
        while not stop.is_set():
            try:
                worked = await self.step()
            except StorageError as exc:
                log.warning("backfill planning skipped: %s", exc)
                worked = False
            except Exception:  # the daemon must outlive any one chunk
                log.exception("unexpected error in the background backfill")
                worked = False
            if worked:
                await asyncio.sleep(0)  # let syncs and scrapes run between chunks
                continue
            await self._pause(stop)

    async def _pause(self, stop: asyncio.Event) -> None:
        now = self._daemon.clock.monotonic()
        # Wake for the next retry that is due before the idle period ends.
        seconds = min([IDLE_SECONDS, *(at - now for at in self._retry_at.values() if at > now)])
        waits = {
            asyncio.ensure_future(sleep_periodic(self._daemon.clock, seconds)),
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self._wake.wait()),
        }
        _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        self._wake.clear()
