"""`syncd run`: schedule every source, keep the counts cache, re-evaluate, serve HTTP.

Each source syncs on its own interval with jitter in its own task, so a slow or failing source
never delays another. After a sync only that source's counts are re-read from the database;
a timer re-evaluates pace (which moves with time) from the in-memory counts, and the web side
only ever reads the current immutable snapshot.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import partial

from aiohttp import web
from sqlalchemy import Engine

from syncd.clock import Clock, SystemClock, sleep_periodic
from syncd.engine.checkin_results import CheckinResult
from syncd.engine.collector import collector_paused
from syncd.engine.day_values import DayValues
from syncd.engine.evaluate import CountKey, CountsRange, counts_needed, period_at
from syncd.engine.fast_evaluate import EvaluationCache, Evaluator, evaluate_goals_fast
from syncd.engine.funnel_outcomes import outcomes_of
from syncd.engine.funnels import evaluate_funnels
from syncd.engine.snapshot import GoalStatus, ReloadStatus, Snapshot, SnapshotHolder, personal_goals_of
from syncd.errors import ConfigError, StorageError
from syncd.model import Config, PeriodSpec, Source
from syncd.redaction import install_log_redaction, redact
from syncd.registry import load_registry
from syncd.run.auto_backfill import AutoBackfiller
from syncd.run.change_watch import ChangeWatch
from syncd.run.checkin_record import (
    JudgingMemo,
    changed_results,
    judge_all,
    load_judging_inputs,
    stored_checkin_results,
)
from syncd.run.leases import LeaseKeeper, adopt_stored_states, foreign_sources
from syncd.run.malloc_arenas import release_free_memory
from syncd.run.push_health import apply_push_states, new_stats, refresh_interval
from syncd.run.refresh import Refresher
from syncd.run.reload import ReloadPlan, keep_running_values, load_web_config_of, plan_reload
from syncd.run.restored_health import restore_source_health
from syncd.run.retention import Pruner
from syncd.run.source_stats import SourceStats
from syncd.run.storage_wait import wait_for_storage
from syncd.run.sync import ConnectorPool, SyncOutcome, sync_source
from syncd.serve.web import WebState, build_app
from syncd.serve.web_config import WebConfig
from syncd.store import load_daily_counts, ping
from syncd.store.changes import DaySpan
from syncd.store.checkin_repository import SAVE_BATCH, save_checkin_results
from syncd.store.executor import HEALTH, run_db, run_db_bounded, run_db_write
from syncd.store.goal_history import record_config_goals
from syncd.store.goal_repository import StoredVersions
from syncd.store.repository import SourceState, load_source_states

__all__ = ["CountsCache", "Daemon"]

log = logging.getLogger(__name__)

# Pace moves with the clock even when no sync brings new counts.
EVALUATE_EVERY_SECONDS = 15.0
# Finished check-ins change with new data (judged on the next tick) and as days close: every few minutes.
CHECKIN_RECORD_EVERY_TICKS = 20
# Late counts have closed check-ins judged again once they settle, or after this many ticks of more.
CHECKIN_SETTLE_TICKS = 4
# Between back-to-back refreshes (a stream of pushes): the push handlers get the GIL back meanwhile.
REFRESH_PAUSE_SECONDS = 1.0
# ... or twice the last refresh's length, up to this: a push still shows well within one tick.
REFRESH_PAUSE_MAX_SECONDS = 5.0
# /readyz gives the database this long to answer SELECT 1 (the probe itself allows a few seconds).
READINESS_PING_SECONDS = 2.0


class SubjectCounts(dict[str, DayValues]):
    """One count key's days by subject, as the counts cache holds them: a dict a memo can refer to weakly."""

    __slots__ = ("__weakref__",)


@dataclass
class CountsCache:
    """The daily counts the goals need, held in memory and refreshed per source after a sync."""

    counts: dict[CountKey, SubjectCounts] = field(default_factory=dict)
    range: CountsRange | None = None

    def load(
        self,
        engine: Engine,
        needed: CountsRange,
        keys: tuple[CountKey, ...] | None = None,
        spans: Mapping[CountKey, DaySpan] | None = None,
    ) -> None:
        """Re-read `keys` (default: all needed keys) for the needed day range, or only the days of their `spans`."""
        wanted = needed.keys if keys is None else tuple(k for k in keys if k in needed.keys)
        whole: list[CountKey] = []
        by_span: dict[DaySpan, list[CountKey]] = {}
        for key in wanted:
            span = spans.get(key) if spans is not None and key in self.counts else None
            if span is None:
                whole.append(key)
            else:
                first, last = max(span[0], needed.first_day), min(span[1], needed.last_day)
                if first <= last:
                    by_span.setdefault((first, last), []).append(key)
        if whole:
            fresh = load_daily_counts(engine, keys=whole, first_day=needed.first_day, last_day=needed.last_day)
            for key in whole:
                self.counts[key] = _same_where_equal(self.counts.get(key), fresh.get(key, {}))
        for (first, last), span_keys in by_span.items():
            # A push of one day into 10,000 subjects re-reads that day, not the 60 around it.
            fresh = load_daily_counts(engine, keys=span_keys, first_day=first, last_day=last)
            for key in span_keys:
                self.counts[key] = _merged(self.counts[key], fresh.get(key, {}), first, last)
        if keys is None:
            self.range = needed


def _widened(held: DaySpan | None, more: DaySpan | None) -> DaySpan | None:
    """Return the span covering both, None (every day) when either is."""
    if held is None or more is None:
        return None
    return (min(held[0], more[0]), max(held[1], more[1]))


def _same_where_equal(held: Mapping[str, DayValues] | None, fresh: Mapping[str, DayValues]) -> SubjectCounts:
    """Return `fresh`, with each subject's map that equals the held one replaced by the held object.

    A sync re-reads its source whole; the evaluation cache tells changed counts by identity, so
    subjects whose counts did not move keep their owners' figures rather than all being worked out again.
    """
    if not held:
        return SubjectCounts(fresh)
    out = SubjectCounts()
    for subject, days in fresh.items():
        before = held.get(subject)
        out[subject] = before if before is not None and before == days else days
    return out


_NO_DAYS = DayValues.of(())


def _merged(held: SubjectCounts, fresh: Mapping[str, DayValues], first: date, last: date) -> SubjectCounts:
    """Return `held` with the days first..last replaced by `fresh`, as new mappings where they change.

    New objects, never edits: the evaluation cache tells changed counts by their mapping's identity.
    """
    merged = SubjectCounts(held)
    touched = set(fresh).union(subject for subject, by_day in held.items() if by_day.any_between(first, last))
    for subject in touched:
        before, after = held.get(subject, _NO_DAYS), fresh.get(subject, _NO_DAYS)
        if before.same_between(first, last, after):
            # Unchanged (a push re-sent what was stored, or changed other subjects' days): keep the
            # same object, so its owner's figures are not worked out again.
            continue
        kept = before.replaced(first, last, after)
        if kept:
            merged[subject] = kept
        else:
            merged.pop(subject, None)
    return merged


class Daemon:
    """The long-running process: scheduler, evaluator and web server."""

    def __init__(
        self,
        config: Config,
        engine: Engine,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        web_config: WebConfig | None = None,
        extra_routes: Callable[[Daemon], list[web.RouteDef]] | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self.clock: Clock = clock or SystemClock()
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self.cache = CountsCache()
        self.stats = {name: new_stats(source) for name, source in config.sources.items()}
        self.holder = SnapshotHolder(Snapshot(generated_at=self.clock.now()))
        self.web_state = WebState(
            holder=self.holder,
            readiness=self._storage_reachable,
            web_config=web_config or WebConfig(),
            extra_routes=extra_routes(self) if extra_routes else [],
            grafana_url=config.grafana_url,
            timezone=config.timezone,
        )
        self._evaluate_lock = asyncio.Lock()
        self.checkin_results: tuple[CheckinResult, ...] = ()
        self._results_config: Config | None = None  # the configuration checkin_results were read for
        # `run` holds /readyz until the first judging is published: a scrape before it would show
        # no check-in history, and pushes sent at once waited on that judging's seconds of work.
        self._hold_ready = False
        self._judging = JudgingMemo()  # goals whose judging inputs stand keep their results
        self._versions: StoredVersions | None = None  # the stored goal versions, re-read when they change
        self._checkins_stale = False  # a sync stored new counts since the check-ins were last judged
        self._counts_moved = False  # stored counts changed since the last tick (see checkins_due)
        self._stale_ticks = 0  # ticks the stale check-ins have waited for the counts to settle
        self.evaluation_cache = EvaluationCache()  # owners' sums and rate estimates, kept until new counts or a new day
        self.refresher = Refresher(
            self._refresh, pause=REFRESH_PAUSE_SECONDS, max_pause=REFRESH_PAUSE_MAX_SECONDS, sleep=self.clock.sleep
        )
        self._coverage_stale = False  # a sync succeeded since the auto-backfill last read the coverage
        # The days pushes changed per key awaiting a refresh; a key missing here is re-read whole.
        self._pushed_spans: dict[CountKey, DaySpan | None] = {}
        self._needed: tuple[Config, date, CountsRange] | None = None  # see _counts_needed
        self.connectors = ConnectorPool()
        # The start is the first successful load; each SIGHUP updates it (see reload_from).
        self.reload_status = ReloadStatus(successful=True, last_success=self.clock.now())
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._last_started: dict[str, datetime] = {}
        self._ssl_context: ssl.SSLContext | None = None
        self.auto_backfill = AutoBackfiller(self)
        self.leases = self._lease_keeper(config)
        # Counts written by other processes (record, backfill, replicas) since the last tick.
        self.change_watch = ChangeWatch(engine)
        # Old push receipts and replaced goal versions, pruned hourly in small batches.
        self.pruner = Pruner(engine, self.clock, lambda: self.config)
        HEALTH.record(None)  # no write yet: a previous daemon's outcome in this process does not count

    def _lease_keeper(self, config: Config) -> LeaseKeeper:
        return LeaseKeeper(self.engine, self.clock, sources=_pull_sources(config), lease_seconds=config.lease_seconds)

    async def _storage_reachable(self) -> bool:
        # A failed last write (a full disk) makes the daemon unready even when SELECT 1 still works.
        if HEALTH.last_write_ok is False:
            return False
        try:
            await run_db_bounded(READINESS_PING_SECONDS, False, ping, self.engine)
        except StorageError:
            return False
        return True

    async def evaluate(
        self,
        refreshed: tuple[CountKey, ...] | None = None,
        *,
        reread: tuple[CountKey, ...] = (),
        spans: Mapping[CountKey, DaySpan] | None = None,
    ) -> Snapshot:
        """Refresh the cache where needed, recompute figures and swap the snapshot in.

        `refreshed` None recomputes every goal; a tuple of keys re-reads those counts and
        recomputes only the goals they feed (an empty tuple: none, the sources' health only).
        `reread` keys are re-read from the database first: counts other processes and replicas store.
        `spans` narrows a key's re-read to the days a push (or the change feed) says changed.
        """
        async with self._evaluate_lock:
            now = self.clock.now()
            needed = self._counts_needed(now)
            range_moved = self.cache.range != needed
            if range_moved:
                # First run or a period rolled over: the day range moved, read everything once.
                await run_db(self.cache.load, self.engine, needed)
            elif refreshed or reread:
                # A key with a span re-reads those days only; one without (a sync, a lease taken over) whole.
                await run_db(self.cache.load, self.engine, needed, (*(refreshed or ()), *reread), spans)
            # A worker thread: 10,000 goals must not stall /metrics, /healthz or a push meanwhile.
            goals, backfill_remaining = await asyncio.to_thread(
                self._marked_statuses, now, None if range_moved else refreshed
            )
            # Nothing re-read (a sync that changed no count): the funnels stand as they were.
            keep_funnels = refreshed == () and not range_moved
            # In the worker too: a company's funnels read every owner's counts of every stage.
            funnels = (
                self.holder.current.funnels
                if keep_funnels
                else await asyncio.to_thread(evaluate_funnels, self.config, self.cache.counts, now)
            )
            snapshot = Snapshot(
                generated_at=now,
                goals=goals,
                funnels=funnels,
                funnel_outcomes=(
                    self.holder.current.funnel_outcomes if keep_funnels else outcomes_of(self.config, funnels)
                ),
                sources=tuple(stats.status() for stats in self.stats.values()),
                personal_goals=personal_goals_of(self.config),
                ready=not self._hold_ready,
                config_reload=self.reload_status,
                checkins=self.checkin_results,
                backfill_remaining_days=backfill_remaining,
                pruned_rows=dict(self.pruner.pruned),
            )
            self.holder.swap(snapshot)
            # Render once per change, off the event loop, rather than on the first scrape after it.
            await asyncio.to_thread(self.web_state.prerender)
            return snapshot

    def _counts_needed(self, now: datetime) -> CountsRange:
        """Return `counts_needed` for the running configuration, worked out once per configuration and local day."""
        config = self.config
        today = now.astimezone(config.timezone).date()
        kept = self._needed
        if kept is None or kept[0] is not config or kept[1] != today:
            kept = self._needed = (config, today, counts_needed(config, now))
        return kept[2]

    def request_refresh(self, keys: tuple[CountKey, ...], spans: Mapping[CountKey, DaySpan] | None = None) -> None:
        """Re-evaluate the goals fed by `keys` in the background (after a push); returns at once.

        `spans`: the days the push changed per key, so the refresh re-reads only those days.
        """
        for key in keys:
            span = spans.get(key) if spans is not None else None
            if key in self._pushed_spans:
                span = _widened(self._pushed_spans[key], span)
            self._pushed_spans[key] = span
        if keys:
            self._counts_moved = True
            known = [spans[key][0] for key in keys if spans is not None and key in spans]
            self._note_changed_from(min(known) if len(known) == len(keys) else None)
        self.refresher.request(keys)

    def _note_changed_from(self, first_day: date | None) -> None:
        """Counts changed from `first_day` on (None: any day): judge check-ins again if a closed one may move.

        A check-in closes at the end of its last day, so counts of today or later change no judged
        one; late counts for a past day (a correction, a backfill, another replica) may.
        """
        if first_day is None or first_day < self.clock.now().astimezone(self.config.timezone).date():
            self._checkins_stale = True

    @property
    def checkins_stale(self) -> bool:
        """Whether stored counts changed since the check-ins were last judged (see checkins_due)."""
        return self._checkins_stale

    def checkins_due(self, ticks: int) -> bool:
        """Say whether the tick numbered `ticks` judges the check-ins again (and take the counts' news).

        Stale check-ins are judged at the first tick after the counts settle, or after
        CHECKIN_SETTLE_TICKS ticks of counts still moving: while pushes stream in, judging
        10,000 goals at every tick took the push handlers' time for a result that moved again at the
        next push. Every CHECKIN_RECORD_EVERY_TICKS ticks they are judged for the clock anyway.
        """
        moved, self._counts_moved = self._counts_moved, False
        if self._checkins_stale:
            self._stale_ticks += 1
            if not moved or self._stale_ticks >= CHECKIN_SETTLE_TICKS:
                return True
        # Not at the first tick: the check-ins were judged at start, and pushes stream in just after.
        return ticks % CHECKIN_RECORD_EVERY_TICKS == 0

    def _marked_statuses(
        self, now: datetime, refreshed: tuple[CountKey, ...] | None
    ) -> tuple[tuple[GoalStatus, ...], dict[str, int]]:
        """Return the goals' statuses marked complete or not, and the days each source has left to backfill.

        Both walk every goal: in the worker thread, never on the event loop that answers pushes.
        """
        # The configuration the statuses are worked out for (read again at once by _goal_statuses): a
        # reload landing during the seconds of evaluation must not mark them with the new one's goals.
        config = self.config
        statuses = self.auto_backfill.mark(self._goal_statuses(now, refreshed), now, config)
        return statuses, self.auto_backfill.remaining_days(now, config)

    def _goal_statuses(self, now: datetime, refreshed: tuple[CountKey, ...] | None) -> tuple[GoalStatus, ...]:
        """Recompute the goals fed by `refreshed` keys only (all goals when None), reusing the rest.

        After a sync, goals of other sources keep the figures of the last evaluation; the timer
        recomputes everything, as pace moves with time for every goal.
        """
        config = self.config  # one configuration throughout, even if a reload lands meanwhile
        if refreshed is None:
            return evaluate_goals_fast(config, self.cache.counts, now, self.evaluation_cache)
        evaluator = Evaluator(config, self.cache.counts, now, self.evaluation_cache)
        current = {(g.kpi, g.owner, g.period): g for g in self.holder.current.goals}
        reads = {name: any(key in refreshed for key in kpi.count_keys) for name, kpi in config.kpis.items()}
        period_ids: dict[PeriodSpec, str] = {}
        out: list[GoalStatus] = []
        with collector_paused():
            for goal in config.goals:
                period = period_ids.get(goal.period)
                if period is None:
                    period = period_ids[goal.period] = period_at(config, goal.period, now).id
                kept = current.get((goal.kpi, goal.owner, period))
                if kept is not None and not reads[goal.kpi]:
                    out.append(kept)
                else:
                    # Of the refreshed KPIs' goals, those whose owner's counts did not change keep theirs too.
                    out.append(evaluator.goal(goal, unless_changed=kept))
        return tuple(out)

    async def record_checkins(self) -> None:
        """Judge and store every finished check-in, then publish the stored results with the snapshot."""
        async with self._evaluate_lock:
            now, config = self.clock.now(), self.config
            # The cache replaces a key's mapping when it re-reads it, never edits one: a copy of the
            # outer mapping is the counts as they stand now, while evaluations go on meanwhile.
            counts = dict(self.cache.counts)
        stored_versions, coverage = await run_db(load_judging_inputs, self.engine, config, self._versions)
        self._versions, versions = stored_versions, stored_versions.versions
        # Judging 10,000 goals takes seconds of CPU: in a worker thread, not on the database executor
        # (pushes and syncs would wait) nor under the evaluation lock (a push's figures would wait).
        judged = await asyncio.to_thread(judge_all, config, counts, now, versions, coverage, self._judging)
        changed = await asyncio.to_thread(changed_results, judged, self.checkin_results)
        if not changed and not self.leases.shared and self._results_config is config:
            return  # nothing new to store, and no replica stores results: the published ones stand
        # A write per slice, not one transaction: the first judging of 10,000 goals stores 50,000
        # results, and pushes waited seconds for the SQLite write lock behind one transaction.
        for start in range(0, len(changed), SAVE_BATCH):
            await run_db_write(save_checkin_results, self.engine, changed[start : start + SAVE_BATCH], now)
        stored = await run_db(stored_checkin_results, self.engine, config, held=judged)
        del judged
        self._results_config = config
        async with self._evaluate_lock:
            self.checkin_results = stored
            self.holder.swap(replace(self.holder.current, checkins=stored))
        # A judging of every goal frees as much as it keeps (the last results, the read-back rows).
        await asyncio.to_thread(release_free_memory)

    async def sync_once(self, source: Source) -> SyncOutcome:
        """Sync one source and re-evaluate what its counts feed."""
        self._last_started[source.name] = self.clock.now()
        outcome = await sync_source(
            self.config,
            source,
            self.engine,
            self.clock,
            self.stats[source.name],
            pool=self.connectors,
            fence=self.leases.fence(source.name),
        )
        keys = tuple((source.name, kpi.metric) for kpi in self.config.kpis_reading(source.name))
        self._checkins_stale = self._checkins_stale or bool(outcome.ok and outcome.changed)
        self._counts_moved = self._counts_moved or bool(outcome.ok and outcome.changed)
        # A sync may set the source's coverage (its first) and so its goals' completeness.
        self._coverage_stale = self._coverage_stale or outcome.ok
        # Nothing stored changed: keep every goal's figures, refresh only the source's health. Syncs
        # finishing together share one evaluation (and one coverage read) rather than queueing one each.
        refreshed = keys if outcome.ok and outcome.changed else ()
        for key in refreshed:
            self._pushed_spans[key] = None  # a sync may have changed any day: re-read it whole
        await self.refresher.request(refreshed)
        return outcome

    async def _refresh(self, keys: tuple[CountKey, ...]) -> None:
        """Re-evaluate what `keys` feed after syncs and pushes, reading the coverage first when a sync stored."""
        # Taken before any wait: spans noted from here on belong to the next refresh.
        taken = {key: self._pushed_spans.pop(key, None) for key in keys}
        spans = {key: span for key, span in taken.items() if span is not None}
        if self._coverage_stale:
            self._coverage_stale = False
            await self.auto_backfill.refresh()
            self.auto_backfill.wake()
        await self.evaluate(refreshed=keys, spans=spans)

    async def _source_loop(self, name: str, stop: asyncio.Event, first_delay: float | None = None) -> None:
        # Start soon but not all at once; later runs drift ±10% so sources don't align.
        interval = self.config.sources[name].interval_seconds
        delay = self.rng.uniform(0, min(2.0, interval * 0.05)) if first_delay is None else first_delay
        while not stop.is_set():
            if await self._wait(stop, delay):
                return
            # The running configuration's source: a reload may have changed its interval.
            source = self.config.sources.get(name)
            if source is None:
                return
            try:
                await self.sync_once(source)
            except Exception:  # the loop must outlive any one sync
                log.exception("unexpected error syncing %s", name)
            delay = source.interval_seconds * self.rng.uniform(0.9, 1.1)

    def note_push(self, name: str, at: datetime) -> None:
        """A push to `name` was stored: the push source is up, its last success is now."""
        stats = self.stats.get(name)
        if stats is not None:
            stats.record_push(at)

    def note_push_refused(self, name: str, message: str) -> None:
        """A push to `name` could not be stored: the push source is down until one is."""
        stats = self.stats.get(name)
        if stats is not None:
            stats.record_push_refused(message)

    async def refresh_push_health(self) -> None:
        """Read push sources' last accepted pushes from storage (another process, a restart)."""
        apply_push_states(self.stats, await run_db(load_source_states, self.engine))

    async def tick(self) -> None:
        """One evaluation tick: take in what other processes and replicas wrote, then recompute every goal."""
        # One read of the stored source states serves push health and the replicas' view of the others.
        states = await run_db(load_source_states, self.engine)
        apply_push_states(self.stats, states)
        needed = self._counts_needed(self.clock.now())
        # The change feed names the counts any other process or replica stored since the last tick.
        changed = await run_db(self.change_watch.poll, needed)
        if changed:
            self._counts_moved = True
            self._note_changed_from(self.change_watch.earliest_day)
        foreign = self._foreign_counts(states)
        # The feed also names this daemon's own pushes, already re-read by their refresh: their days
        # only, not the whole key again. A source just taken over is re-read whole.
        spans = {key: span for key, span in self.change_watch.spans.items() if key not in foreign}
        await self.evaluate(reread=(*foreign, *changed), spans=spans)

    async def start(self) -> None:
        """Prepare the first snapshot: goal versions, the change feed's position, stored source health."""
        await run_db_write(record_config_goals, self.engine, self.config, self.clock.now())
        # Before the first full read, so a write landing during it is re-read at the next tick.
        await run_db(self.change_watch.start)
        states = await run_db(load_source_states, self.engine)
        restore_source_health(self.stats, states)
        apply_push_states(self.stats, states)
        await self.evaluate()

    async def _evaluate_loop(self, stop: asyncio.Event) -> None:
        ticks = 0
        while not await self._wait(stop, EVALUATE_EVERY_SECONDS, periodic=True):
            try:
                await self.tick()
                ticks += 1
                if self.checkins_due(ticks):
                    self._checkins_stale, self._stale_ticks = False, 0
                    await self.record_checkins()
            except StorageError as exc:
                log.warning("evaluation skipped: %s", exc)

    def _foreign_counts(self, states: Mapping[str, SourceState]) -> tuple[CountKey, ...]:
        """Replicas: adopt the stored health of sources others sync and name their counts to re-read.

        Counts other replicas store reach this one through the change feed; only a source just taken
        over is re-read here as well, since its previous holder may have stored just before the handover.
        """
        if not self.leases.shared:
            return ()
        foreign = foreign_sources(self.config, self.leases.held())
        pulled = foreign & frozenset(self.leases.sources)
        adopt_stored_states(self.stats, states, pulled)
        stored_elsewhere = self.leases.take_gained()
        return tuple((name, kpi.metric) for name in stored_elsewhere for kpi in self.config.kpis_reading(name))

    async def reload(self, config: Config) -> None:
        """Swap in a new configuration: stats follow the sources, removed goals' series go at once."""
        self.config = config
        self.web_state.grafana_url, self.web_state.timezone = config.grafana_url, config.timezone
        # Every cached entry is keyed by the old configuration: none can be hit again, so let them all go.
        self.evaluation_cache = EvaluationCache()
        self._judging = JudgingMemo()
        stats: dict[str, SourceStats] = {}
        for name, source in config.sources.items():
            kept = self.stats.get(name)
            if kept is None or kept.connector != source.connector:
                kept = new_stats(source)
            refresh_interval(kept, source)  # syncd_source_interval_seconds follows at once
            stats[name] = kept
        self.stats = stats
        self.leases.sources = _pull_sources(config)
        await run_db_write(record_config_goals, self.engine, config, self.clock.now())
        self.cache = CountsCache()
        self.auto_backfill.wake()  # added goals may need history
        await self.evaluate()

    async def _wait(self, stop: asyncio.Event, seconds: float, *, periodic: bool = False) -> bool:
        """Sleep on the injected clock; return True when asked to stop.

        `periodic`: between rounds of a periodic loop, which the demo's clock floors in real time.
        """
        sleep = sleep_periodic(self.clock, seconds) if periodic else self.clock.sleep(seconds)
        sleeper = asyncio.ensure_future(sleep)
        stopper = asyncio.ensure_future(stop.wait())
        _, pending = await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return stop.is_set()

    def _start_source(self, name: str, stop: asyncio.Event, first_delay: float | None = None) -> None:
        source = self.config.sources[name]
        # Push sources have nothing to pull: their counts arrive over HTTP.
        if not getattr(load_registry().get(source.connector), "pull", True):
            return
        if self.leases.shared:
            # Replicas on PostgreSQL: the source syncs only where its lease is held.
            loop = self.leases.source_loop(source, stop, sync=self.sync_once, wait=self._wait, rng=self.rng)
            self._tasks[name] = asyncio.create_task(loop, name=f"sync:{name}")
            return
        self._tasks[name] = asyncio.create_task(self._source_loop(name, stop, first_delay), name=f"sync:{name}")

    def _start_sources(self, stop: asyncio.Event) -> None:
        for name in self.config.sources:
            self._start_source(name, stop)

    async def _stop_source(self, name: str) -> None:
        task = self._tasks.pop(name, None)
        if task is not None:
            await _cancel([task])

    async def reload_from(self, load_config: Callable[[], Config], stop: asyncio.Event) -> ReloadPlan | None:
        """Load the configuration again and apply what changed; never raise.

        A file that fails to load (whatever the exception) is logged in one line and the running
        configuration kept, with the reload metric at 0. Otherwise only the sources whose settings
        changed restart; a changed interval re-times the next sync from the last one.
        """
        now = self.clock.now()
        try:
            config = load_config()
            web_config = load_web_config_of(config)
            fresh_tls = web_config.ssl_context()  # reads the certificate and key now: a bad pair is refused here
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("reload refused, keeping the running configuration: %s", problem)
            self._reload_failed()
            return None
        except Exception as exc:  # a reload must never take the running daemon down
            log.error("reload refused, keeping the running configuration: %s", redact(f"{type(exc).__name__}: {exc}"))
            self._reload_failed()
            return None
        plan = plan_reload(self.config, config, self.web_state.web_config, web_config)
        for key in plan.needs_restart:
            log.warning("reload: %s changed and needs a restart; still using the running value", key)
        install_log_redaction(config)  # new credentials are masked before any sync uses them
        if self._ssl_context is not None and fresh_tls is not None and web_config.cert_file and web_config.key_file:
            # New handshakes use the re-read certificate: rotation without a restart.
            self._ssl_context.minimum_version = web_config.min_tls
            self._ssl_context.load_cert_chain(web_config.cert_file, web_config.key_file)
        if plan.partial and (web_config.cert_file is None) != (self.web_state.web_config.cert_file is None):
            # TLS switched on or off waits for the restart: keep describing what is served.
            running = self.web_state.web_config
            web_config = replace(
                web_config, cert_file=running.cert_file, key_file=running.key_file, min_tls=running.min_tls
            )
        self.web_state.web_config = web_config  # users apply to the next request
        for name in (*plan.removed, *plan.restarted, *plan.rescheduled):
            await self._stop_source(name)
        try:
            await self.reload(keep_running_values(config, self.config))
        except StorageError as exc:
            log.warning("reloaded, but the first evaluation failed: %s", exc)
        except Exception:  # the new configuration is in place; the evaluator's next tick retries
            log.exception("reloaded, but the first evaluation failed")
        for name in (*plan.added, *plan.restarted):
            self._start_source(name, stop)
        for name in plan.removed:
            await self.connectors.discard(name)
        for name in plan.rescheduled:
            self.connectors.adopt(self.config.sources[name])
            last = self._last_started.get(name)
            due = None if last is None else (last - now).total_seconds() + self.config.sources[name].interval_seconds
            self._start_source(name, stop, None if due is None else max(0.0, due))
        self.reload_status = ReloadStatus(
            successful=not plan.partial,
            last_success=self.reload_status.last_success if plan.partial else now,
        )
        await self._publish_reload_status()
        log.info("configuration reloaded%s: %s", " partially (restart needed)" if plan.partial else "", plan.summary())
        return plan

    def _reload_failed(self) -> None:
        self.reload_status = ReloadStatus(successful=False, last_success=self.reload_status.last_success)
        self.holder.swap(replace(self.holder.current, config_reload=self.reload_status))

    async def _publish_reload_status(self) -> None:
        self.holder.swap(replace(self.holder.current, config_reload=self.reload_status))

    async def serve(self) -> web.AppRunner:
        """Start serving HTTP on the configured address, with TLS when the web config has it."""
        # In-flight requests get a short grace at SIGTERM, so the process exits well within 10 s.
        runner = web.AppRunner(build_app(self.web_state), access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        # Kept: a reload loads a rotated certificate into this same context.
        self._ssl_context = self.web_state.web_config.ssl_context()
        site = web.TCPSite(
            runner,
            self.config.listen_host,
            self.config.listen_port,
            ssl_context=self._ssl_context,
        )
        await site.start()
        log.info("serving on %s:%s", self.config.listen_host, self.config.listen_port)
        return runner

    async def run(
        self,
        stop: asyncio.Event,
        *,
        serve: bool = True,
        reload_requested: asyncio.Event | None = None,
        load_config: Callable[[], Config] | None = None,
        upgrade_schema: bool = False,
    ) -> None:
        """Run until `stop` is set: serve HTTP, sync every source, keep the snapshot fresh.

        When `reload_requested` is set (SIGHUP), `load_config` is called; a valid configuration
        replaces the running one, an invalid one is logged and the old one kept. With
        `upgrade_schema`, the schema is upgraded first, retried while the database is down.
        """
        runner = await self.serve() if serve else None
        if upgrade_schema and not await wait_for_storage(self.engine, stop, self.clock):
            if runner is not None:
                await runner.cleanup()
            return
        self._hold_ready, unevaluated = True, self.holder.current
        try:
            await self.start()
            await self.record_checkins()
        except StorageError as exc:
            log.warning("first evaluation failed: %s", exc)
        finally:
            self._hold_ready = False
            if self.holder.current is not unevaluated:  # evaluated, whether or not judging failed
                self.holder.swap(replace(self.holder.current, ready=True))
        reload_event = reload_requested or asyncio.Event()
        keeper_stop = asyncio.Event()
        keeper = asyncio.create_task(self.leases.run(keeper_stop, self._wait), name="leases")
        self._start_sources(stop)
        evaluator = asyncio.create_task(self._evaluate_loop(stop), name="evaluate")
        backfiller = asyncio.create_task(self.auto_backfill.run(stop), name="auto-backfill")
        pruner = asyncio.create_task(self.pruner.run(stop, partial(self._wait, periodic=True)), name="retention")
        try:
            while not stop.is_set():
                stopper = asyncio.ensure_future(stop.wait())
                reloader = asyncio.ensure_future(reload_event.wait())
                await asyncio.wait({stopper, reloader}, return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
                reloader.cancel()
                if stop.is_set() or load_config is None or not reload_event.is_set():
                    continue
                reload_event.clear()
                try:
                    await self.reload_from(load_config, stop)
                except Exception:  # reload_from catches its own; a SIGHUP must never end the daemon
                    log.exception("reload failed; the daemon keeps running")
        finally:
            await _cancel([*self._tasks.values(), evaluator, backfiller, pruner])
            await self.refresher.aclose()
            # After the syncs stopped: the leases go back for the other replicas to take at once.
            keeper_stop.set()
            await asyncio.gather(keeper, return_exceptions=True)
            await self.connectors.aclose()
            if runner is not None:
                await runner.cleanup()


def _pull_sources(config: Config) -> tuple[str, ...]:
    """Return the sources syncd pulls from a vendor: push sources have no lease, any replica takes pushes."""
    registry = load_registry()
    return tuple(n for n, s in config.sources.items() if getattr(registry.get(s.connector), "pull", True))


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
