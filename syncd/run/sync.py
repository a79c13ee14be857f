"""One sync of one source: choose the window, collect, store counts and state together.

This is the one place that maps connector errors to outcomes (a `reason` for
syncd_source_sync_failures_total), shared by `syncd run`, `sync --once` and `backfill`.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import cache

from sqlalchemy import Engine

from connectors.base import CollectResult, Connector, ConnectorContext, SyncWindow, local_day
from connectors.http import HttpObserver
from syncd.clock import Clock, duration_timer
from syncd.engine.evaluate import period_at
from syncd.errors import LeaseLost, SourceError, StorageError, StorageTimeout
from syncd.model import Config, Source
from syncd.redaction import redact
from syncd.registry import load_registry
from syncd.run.source_stats import SourceStats
from syncd.store import SourceState, load_source_states, record_failure, save_sync
from syncd.store.executor import run_db, run_db_write
from syncd.store.held_reads import SuspectDay
from syncd.store.leases import Fence

__all__ = [
    "ConnectorPool",
    "SyncOutcome",
    "first_window_start",
    "plan_window",
    "shared_ssl_context",
    "sync_source",
    "sync_window",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncOutcome:
    """What one sync did."""

    source: str
    ok: bool
    window: SyncWindow | None
    counts: int = 0
    changed: int = 0
    duration: float = 0.0  # real seconds, as syncd_source_sync_duration_seconds (clock.duration_timer)
    reason: str | None = None
    error: str | None = None
    notes: tuple[str, ...] = ()
    # The store did not answer in time (not refused): a backfill stops calling a silent database.
    storage_silent: bool = False


@cache
def shared_ssl_context() -> ssl.SSLContext:
    """Return one SSL context for every source: loading the CA bundle per client is slow."""
    return ssl.create_default_context()


def local_midnight_of(day: date, config: Config) -> datetime:
    """Return 00:00 of `day` in the configured zone, as an aware datetime."""
    return datetime.combine(day, time(0), tzinfo=config.timezone)


def first_window_start(config: Config, source: Source, now: datetime) -> date:
    """Return the first day a source's first sync reads: the earliest current period using it."""
    days: list[date] = []
    for goal in config.goals:
        if config.kpis[goal.kpi].reads(source.name):
            days.append(period_at(config, goal.period, now).first_day)
    for funnel in config.funnels.values():
        if any(config.kpis[step].reads(source.name) for step in funnel.steps):
            days.append(period_at(config, funnel.period, now).first_day)
    if days:
        return min(days)
    return local_day(now - source.settings.lookback, config.timezone)


def plan_window(
    config: Config,
    source: Source,
    state: SourceState | None,
    now: datetime,
    *,
    since: date | None = None,
    history_limit: timedelta | None = None,
) -> tuple[SyncWindow, tuple[str, ...]]:
    """Return the window this sync reads and any notes about it.

    The end is `now`, fixed before the sync starts. The start is a local midnight: `since` for a
    backfill; else the earlier of the last window's end and `now - lookback` (so a daemon that was
    down for a week reads the whole week); else, on a first sync, the earliest current goal period.
    """
    tz = config.timezone
    if since is not None:
        first = since
    elif state is not None and state.cursor_end is not None:
        resume = min(state.cursor_end, now - source.settings.lookback)
        first = local_day(resume, tz)
    else:
        first = first_window_start(config, source, now)
    notes: tuple[str, ...] = ()
    if history_limit is not None:
        oldest = local_day(now - history_limit, tz) + timedelta(days=1)
        if first < oldest:
            notes = (
                f"{source.name}: the vendor keeps only {history_limit.days} days of history; "
                f"reading from {oldest.isoformat()} instead of {first.isoformat()}",
            )
            first = oldest
    start = local_midnight_of(first, config)
    if start >= now:
        start = local_midnight_of(local_day(now, tz), config)
    return SyncWindow(start=start, end=now, timezone=tz), notes


def sync_deadline(source: Source) -> float:
    """Bound one sync: httpx's timeouts bound inactivity, not a whole paginated read."""
    return max(60.0, min(source.interval_seconds * 0.9, 900.0))


async def sync_source(
    config: Config,
    source: Source,
    engine: Engine,
    clock: Clock,
    stats: SourceStats,
    *,
    since: date | None = None,
    deadline: float | None = None,
    pool: ConnectorPool | None = None,
    fence: Fence | None = None,
) -> SyncOutcome:
    """Sync one source once: collect its window and store counts and cursor in one transaction.

    With a `fence` (replicas on PostgreSQL) nothing is written unless this replica still holds the lease.
    """
    timer = duration_timer(clock)
    started = timer()
    now = clock.now()
    connector_cls = load_registry().get(source.connector)
    if connector_cls is None:
        return _failed(stats, source, None, "config", f"connector {source.connector!r} is not installed", 0.0)
    if not getattr(connector_cls, "pull", True):
        return SyncOutcome(source=source.name, ok=True, window=None, notes=("a push source: nothing to pull",))
    try:
        states = await run_db(load_source_states, engine, (source.name,))
    except StorageError as exc:
        return _failed(stats, source, None, "storage", str(exc), timer() - started)
    state = states.get(source.name)
    window, notes = plan_window(config, source, state, now, since=since, history_limit=connector_cls.history_limit)
    return await sync_window(
        config,
        source,
        engine,
        clock,
        stats,
        window,
        state,
        notes=notes,
        deadline=deadline,
        started=started,
        pool=pool,
        fence=fence,
    )


async def sync_window(
    config: Config,
    source: Source,
    engine: Engine,
    clock: Clock,
    stats: SourceStats,
    window: SyncWindow,
    state: SourceState | None,
    *,
    notes: tuple[str, ...] = (),
    deadline: float | None = None,
    started: float | None = None,
    pool: ConnectorPool | None = None,
    fence: Fence | None = None,
    watcher: HttpObserver | None = None,
    log_failures: bool = True,
) -> SyncOutcome:
    """Collect one planned window and store its counts and the new cursor in one transaction.

    A `watcher` hears what the connector's HTTP layer reports besides `stats` (a backfill shows its
    waits); with a `pool`, the connector keeps the watcher it was first made with. A caller that
    shows failures itself (`syncd backfill`) passes `log_failures=False`, so each is said once.
    """
    timer = duration_timer(clock)
    started = timer() if started is None else started
    connector_cls = load_registry().get(source.connector)
    if connector_cls is None:
        return _failed(
            stats, source, None, "config", f"connector {source.connector!r} is not installed", 0.0, log_it=log_failures
        )
    context = ConnectorContext(
        source=source.name,
        timezone=config.timezone,
        clock=clock,
        observer=stats if watcher is None else _BothObservers(stats, watcher),
        ssl_context=shared_ssl_context(),
        metrics=frozenset(kpi.metric for kpi in config.kpis_reading(source.name)),
    )
    try:
        result = await _collect(connector_cls, source, context, window, state, deadline, pool)
    except SourceError as exc:
        message = redact(str(exc), source)
        await _record_failure(engine, source, message, clock.now(), fence)
        return _failed(stats, source, window, exc.reason, message, timer() - started, log_it=log_failures)
    except TimeoutError:
        message = f"{source.name}: the sync took longer than its deadline and was abandoned"
        await _record_failure(engine, source, message, clock.now(), fence)
        return _failed(stats, source, window, "timeout", message, timer() - started, log_it=log_failures)
    except Exception as exc:  # a connector bug must not kill the daemon; it is a failed sync
        message = redact(f"{source.name}: {type(exc).__name__}: {exc}", source)
        # The traceback is for the daemon's log; a caller that reports failures itself (backfill) gets it at debug.
        log.log(
            logging.ERROR if log_failures else logging.DEBUG, "connector %s crashed", source.connector, exc_info=True
        )
        await _record_failure(engine, source, message, clock.now(), fence)
        return _failed(stats, source, window, "error", message, timer() - started, log_it=log_failures)
    # A connector that emits metrics "as configured" (http_json, push) declares none: the KPIs
    # reading this source and the counts it returned say which metrics its window replaces.
    metrics = {metric.name for metric in connector_cls.metrics} or (
        {kpi.metric for kpi in config.kpis_reading(source.name)} | {count.metric for count in result.counts}
    )
    held: list[SuspectDay] = []
    try:
        changed = await run_db_write(
            save_sync,
            engine,
            source=source.name,
            metrics=sorted(metrics),
            counts=result.counts,
            replace_from=max(result.complete_from or window.first_day, window.first_day),
            replace_to=window.last_day,
            cursor_end=window.end,
            connector_state=dict(result.state),
            finished_at=clock.now(),
            fence=fence,
            held=held,
        )
    except LeaseLost as exc:
        # Another replica holds the source now and syncs it: this read is dropped, not a failure.
        log.info("sync of %s not stored: %s", source.name, exc)
        return SyncOutcome(source=source.name, ok=False, window=window, reason="lease_lost", error=str(exc))
    except StorageError as exc:
        failed = _failed(stats, source, window, "storage", str(exc), timer() - started, log_it=log_failures)
        return replace(failed, storage_silent=isinstance(exc, StorageTimeout))
    except ValueError as exc:
        # The store refuses counts that break its rules (an undeclared metric, a key twice).
        message = redact(f"{source.name}: the connector returned counts the store refused: {exc}", source)
        await _record_failure(engine, source, message, clock.now(), fence)
        return _failed(stats, source, window, "bad_response", message, timer() - started, log_it=log_failures)
    if held:
        report_suspect_read(stats, source.name, held)
    duration = timer() - started
    stats.record_success(clock.now(), duration)
    return SyncOutcome(
        source=source.name,
        ok=True,
        window=window,
        counts=len(result.counts),
        changed=changed,
        duration=duration,
        notes=notes + tuple(result.notes),
    )


class _BothObservers:
    """Tell the source's counters and one more observer everything the HTTP layer reports."""

    def __init__(self, first: HttpObserver, second: HttpObserver) -> None:
        self._first = first
        self._second = second

    def on_response(self, code: str) -> None:
        self._first.on_response(code)
        self._second.on_response(code)

    def on_rate_limit_remaining(self, remaining: float) -> None:
        self._first.on_rate_limit_remaining(remaining)
        self._second.on_rate_limit_remaining(remaining)

    def on_wait(self, seconds: float, reason: str) -> None:
        self._first.on_wait(seconds, reason)
        self._second.on_wait(seconds, reason)


class ConnectorPool:
    """Keep one connector, and so one HTTP client and rate limiter, per source for its life.

    A new client per sync would forget how much of the vendor's rate limit it has just spent,
    so back-to-back syncs (a backfill's chunks) could exceed it; it would also reload the CA bundle.
    """

    def __init__(self) -> None:
        self._open: dict[str, tuple[Source, Connector]] = {}

    async def get(self, source: Source, factory: Callable[[], Connector]) -> Connector:
        """Return the source's open connector, replacing it when the source's settings changed."""
        current = self._open.get(source.name)
        if current is not None and current[0] == source:
            return current[1]
        if current is not None:
            await current[1].aclose()
        connector = factory()
        self._open[source.name] = (source, connector)
        return connector

    async def discard(self, name: str) -> None:
        """Close the source's connector: it was removed from the configuration."""
        current = self._open.pop(name, None)
        if current is not None:
            await current[1].aclose()

    def adopt(self, source: Source) -> None:
        """Keep the open connector (its rate-limit budget) for a source whose interval alone changed."""
        current = self._open.get(source.name)
        if current is not None:
            self._open[source.name] = (source, current[1])

    async def aclose(self) -> None:
        """Close every open connector."""
        open_now, self._open = self._open, {}
        for _, connector in open_now.values():
            await connector.aclose()


async def _collect(
    connector_cls: type[Connector],
    source: Source,
    context: ConnectorContext,
    window: SyncWindow,
    state: SourceState | None,
    deadline: float | None,
    pool: ConnectorPool | None,
) -> CollectResult:
    if pool is not None:
        connector = await pool.get(source, lambda: connector_cls(source.settings, context))
    else:
        connector = connector_cls(source.settings, context)
    try:
        previous: Mapping[str, str] = state.connector_state if state is not None else {}
        async with asyncio.timeout(deadline if deadline is not None else sync_deadline(source)):
            return await connector.collect(window, previous)
    finally:
        if pool is None:
            await connector.aclose()


async def _record_failure(engine: Engine, source: Source, message: str, at: datetime, fence: Fence | None) -> None:
    try:
        await run_db_write(record_failure, engine, source=source.name, error=message, at=at, fence=fence)
    except LeaseLost as exc:
        log.info("failure of %s not recorded: %s", source.name, exc)
    except StorageError:
        log.warning("could not record the failure of %s: the database is unreachable", source.name)


def report_suspect_read(stats: SourceStats, source: str, held: list[SuspectDay]) -> None:
    """Count a read that would have lowered stored days and name them in the log."""
    stats.record_suspect_read()
    shown = "; ".join(day.describe() for day in held[:20])
    more = f" and {len(held) - 20} more" if len(held) > 20 else ""
    log.warning(
        "%s: a read would lower %d stored day(s); kept until a second read agrees: %s%s",
        source,
        len(held),
        redact(shown),
        more,
    )


def _failed(
    stats: SourceStats,
    source: Source,
    window: SyncWindow | None,
    reason: str,
    message: str,
    duration: float,
    *,
    log_it: bool = True,
) -> SyncOutcome:
    stats.record_failure(reason, message, duration)
    if log_it:
        log.warning("sync of %s failed (%s): %s", source.name, reason, message)
    return SyncOutcome(source=source.name, ok=False, window=window, duration=duration, reason=reason, error=message)
