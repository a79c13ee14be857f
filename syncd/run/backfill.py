"""`syncd backfill`: fetch history into storage in week-long chunks, several sources at once.

Each chunk is stored with its cursor in one transaction and its progress recorded, so an
interrupted backfill (Ctrl-C, a failed source) keeps every finished chunk and the same command
resumes after them. Sources run concurrently, at most `concurrency` at a time. Each source keeps
one connector, so its own rate limiter spans all its chunks, and reads its chunks oldest first,
since its progress is one "done through" day. Sources that share a vendor account (same connector,
key and URL) take turns: they share the vendor's limit. Every database call is bounded, and once
one is not answered the sources still to come fail at once, so a silent database ends the run.
What happens is told to a `BackfillObserver` (the CLI's view draws it); nothing here prints.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from sqlalchemy import Engine

from connectors.base import SyncWindow, local_day
from syncd.clock import Clock, SystemClock
from syncd.errors import StorageError
from syncd.model import Config, Source
from syncd.redaction import redact
from syncd.registry import load_registry
from syncd.run.database_calls import DatabaseCalls
from syncd.run.source_stats import SourceStats
from syncd.run.sync import ConnectorPool, SyncOutcome, local_midnight_of, sync_window
from syncd.store import create_engine_for, load_source_states, upgrade
from syncd.store.backfill_repository import backfill_done_through, save_backfill_progress
from syncd.store.coverage_repository import record_coverage
from syncd.store.executor import run_db

__all__ = [
    "CHUNK_DAYS",
    "DEFAULT_CONCURRENCY",
    "Backfill",
    "BackfillObserver",
    "BackfillReport",
    "Phase",
    "SourceTally",
    "backfill_all",
    "backfill_source",
    "plan_chunks",
    "run_backfill",
    "vendor_accounts",
]

log = logging.getLogger(__name__)

# A week per chunk keeps each request window small and each committed step short.
CHUNK_DAYS = 7
# A backfill may wait on rate limits for a long time; bound each chunk, not the whole run.
CHUNK_DEADLINE_SECONDS = 1800.0
# Sources read at once: enough to overlap the vendors' rate-limit waits, few enough for SQLite's
# one writer and the database executor's few threads.
DEFAULT_CONCURRENCY = 4


class Phase(enum.Enum):
    """Where one source's backfill stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    NOTHING_TO_FETCH = "nothing to fetch"


@dataclass
class SourceTally:
    """What one source's backfill has done so far; the observer reads it, the summary shows it."""

    source: str
    phase: Phase = Phase.QUEUED
    weeks_total: int = 0
    # Chunks an earlier, interrupted run stored (kept, not read again).
    weeks_kept: int = 0
    # Chunks this run stored.
    weeks_stored: int = 0
    # Daily counts the stored chunks held (one per metric, subject and day with events).
    counts: int = 0
    started_at: float | None = None
    seconds: float = 0.0
    # The chunk being read, then the one that failed or was cut short.
    current: SyncWindow | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def weeks_done(self) -> int:
        return self.weeks_kept + self.weeks_stored

    @property
    def ok(self) -> bool:
        return self.phase in (Phase.DONE, Phase.NOTHING_TO_FETCH)

    def describe(self) -> str:
        """Say in a few words how the source ended (or stands), for the summary and plain output."""
        if self.phase is Phase.DONE:
            if self.weeks_total and self.weeks_kept == self.weeks_total:
                return "already complete"
            kept = f" ({_weeks(self.weeks_kept)} kept from an earlier run)" if self.weeks_kept else ""
            return f"done{kept}"
        if self.phase is Phase.FAILED:
            where = f" at {self.current.first_day.isoformat()}" if self.current is not None else ""
            return f"failed{where}: {self.error}"
        if self.phase is Phase.INTERRUPTED:
            if self.current is None and self.started_at is None:
                return "not started (interrupted)"
            where = f" at {self.current.first_day.isoformat()}" if self.current is not None else ""
            return f"interrupted{where}"
        if self.phase is Phase.NOTHING_TO_FETCH:
            return self.error or "nothing to fetch"
        return str(self.phase.value)


@dataclass(frozen=True)
class BackfillReport:
    """How a whole backfill ended: one tally per source, in the order they were asked for."""

    tallies: tuple[SourceTally, ...]
    interrupted: bool = False
    # Wall time of the whole backfill (sources overlap: less than the sum of theirs).
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(tally.ok for tally in self.tallies)


class BackfillObserver(Protocol):
    """Hears a backfill's progress; each call names the source's tally, which holds the figures."""

    def begin(self, tallies: Sequence[SourceTally]) -> None:
        """A backfill of several sources starts; these tallies stay current until it ends."""
        ...

    def planned(self, tally: SourceTally) -> None:
        """The source's chunks are known (`weeks_total`, `weeks_kept`); it may still wait for a turn."""
        ...

    def note(self, tally: SourceTally, text: str) -> None:
        """Something worth saying about the source (its vendor keeps less history than asked for)."""
        ...

    def chunk_started(self, tally: SourceTally) -> None:
        """The source started reading `tally.current`."""
        ...

    def waiting(self, tally: SourceTally, seconds: float, reason: str) -> None:
        """The source's connector is about to wait `seconds` before its next request (a rate limit)."""
        ...

    def chunk_stored(self, tally: SourceTally, outcome: SyncOutcome) -> None:
        """`tally.current` was stored; the tally's figures include it."""
        ...

    def finished(self, tally: SourceTally) -> None:
        """The source is done, failed, or has nothing to fetch; `tally.phase` says which."""
        ...


class _Silent:
    """An observer that hears nothing: `backfill_source` called on its own."""

    def begin(self, tallies: Sequence[SourceTally]) -> None:
        return None

    def planned(self, tally: SourceTally) -> None:
        return None

    def note(self, tally: SourceTally, text: str) -> None:
        return None

    def chunk_started(self, tally: SourceTally) -> None:
        return None

    def waiting(self, tally: SourceTally, seconds: float, reason: str) -> None:
        return None

    def chunk_stored(self, tally: SourceTally, outcome: SyncOutcome) -> None:
        return None

    def finished(self, tally: SourceTally) -> None:
        return None


class _WaitRelay:
    """The HTTP observer a backfilled source's connector reports to: passes its waits on."""

    def __init__(self, tally: SourceTally, observer: BackfillObserver) -> None:
        self._tally = tally
        self._observer = observer

    def on_response(self, code: str) -> None:
        return None

    def on_rate_limit_remaining(self, remaining: float) -> None:
        return None

    def on_wait(self, seconds: float, reason: str) -> None:
        self._observer.waiting(self._tally, seconds, reason)


def plan_chunks(config: Config, source: Source, since: date, clock: Clock) -> tuple[list[SyncWindow], list[str]]:
    """Split [since, now) into week-long windows (one window for a feed without date filter), clipped to history."""
    now = clock.now()
    notes: list[str] = []
    cls = load_registry().get(source.connector)
    first = since
    if cls is not None and cls.history_limit is not None:
        oldest = local_day(now - cls.history_limit, config.timezone) + timedelta(days=1)
        if first < oldest:
            notes.append(
                f"{source.name}: {source.connector} keeps only {cls.history_limit.days} days of history; "
                f"backfilling from {oldest.isoformat()} instead of {since.isoformat()}"
            )
            first = oldest
    windows: list[SyncWindow] = []
    day = first
    today = local_day(now, config.timezone)
    if cls is not None and not getattr(cls, "date_filter", True):
        # A feed without a date filter is read from its newest item whatever the window, so
        # weekly chunks would re-read it once per week: read the whole range once instead.
        start = local_midnight_of(first, config)
        return ([SyncWindow(start=start, end=now, timezone=config.timezone)] if start < now else []), notes
    while day <= today:
        start = local_midnight_of(day, config)
        end = min(local_midnight_of(day + timedelta(days=CHUNK_DAYS), config), now)
        if start < end:
            windows.append(SyncWindow(start=start, end=end, timezone=config.timezone))
        day += timedelta(days=CHUNK_DAYS)
    return windows, notes


def vendor_accounts(sources: Sequence[Source]) -> list[list[Source]]:
    """Group the sources that share a vendor account (connector, key and URL), keeping their order.

    Each source has its own rate limiter, but a vendor counts requests per key: two sources on one
    key read at once would only earn each other's 429s.
    """
    groups: dict[tuple[str, str, str], list[Source]] = {}
    for source in sources:
        api_key = getattr(source.settings, "api_key", None)
        key = api_key.get_secret_value() if api_key is not None else f"<{source.name}>"
        # http_json names its endpoint in `url`: its host is the account's vendor.
        where = getattr(source.settings, "base_url", None) or urlsplit(getattr(source.settings, "url", "") or "").netloc
        groups.setdefault((source.connector, key, where), []).append(source)
    return list(groups.values())


def _stored_through(window: SyncWindow, config: Config) -> date:
    """Return the last day a stored chunk holds whole (its last day is partial when it ends at now)."""
    ends_at_midnight = window.end == local_midnight_of(local_day(window.end, config.timezone), config)
    return window.last_day if ends_at_midnight else window.last_day - timedelta(days=1)


async def backfill_source(
    config: Config,
    source: Source,
    since: date,
    engine: Engine,
    clock: Clock,
    observer: BackfillObserver | None = None,
    tally: SourceTally | None = None,
    *,
    calls: DatabaseCalls | None = None,
) -> bool:
    """Backfill one source in chunks, skipping the ones a previous, interrupted run already stored.

    Return True when every chunk is stored. A failed chunk ends the source (later chunks would leave
    a gap behind the recorded progress); `tally` says where and why. Sources sharing `calls` stop
    calling a database that has stopped answering.
    """
    observer = observer or _Silent()
    tally = tally or SourceTally(source.name)
    tally.started_at = clock.monotonic()
    try:
        return await _backfill_source(config, source, since, engine, clock, observer, tally, calls or DatabaseCalls())
    finally:
        tally.seconds = clock.monotonic() - tally.started_at


async def _backfill_source(
    config: Config,
    source: Source,
    since: date,
    engine: Engine,
    clock: Clock,
    observer: BackfillObserver,
    tally: SourceTally,
    calls: DatabaseCalls,
) -> bool:
    tally.phase = Phase.RUNNING
    cls = load_registry().get(source.connector)
    if cls is not None and not getattr(cls, "pull", True):
        tally.phase, tally.error = Phase.NOTHING_TO_FETCH, "a push source: nothing to fetch"
        _finish(tally, observer, clock)
        return True
    windows, notes = plan_chunks(config, source, since, clock)
    for note in notes:
        tally.notes.append(note)
        observer.note(tally, note)
    try:
        done = await calls.read("read backfill progress", backfill_done_through, engine, source.name, since)
    except StorageError as exc:
        return _fail(tally, observer, clock, str(exc))
    pending = [w for w in windows if done is None or w.last_day > done]
    tally.weeks_total, tally.weeks_kept = len(windows), len(windows) - len(pending)
    observer.planned(tally)
    stats = SourceStats(source.name, source.connector, source.interval_seconds)
    relay = _WaitRelay(tally, observer)
    # One connector for every chunk, so its rate limiter spans the whole backfill.
    pool = ConnectorPool()
    try:
        for window in pending:
            tally.current = window
            observer.chunk_started(tally)
            try:
                states = await calls.read("read the source's state", load_source_states, engine, (source.name,))
            except StorageError as exc:
                return _fail(tally, observer, clock, str(exc))
            outcome = await sync_window(
                config,
                source,
                engine,
                clock,
                stats,
                window,
                states.get(source.name),
                deadline=CHUNK_DEADLINE_SECONDS,
                pool=pool,
                watcher=relay,
                log_failures=False,  # the observer shows it, with the week it stopped at
            )
            if not outcome.ok:
                if outcome.storage_silent:
                    calls.note_silent("store a backfill chunk", outcome.error or "no answer")
                return _fail(tally, observer, clock, outcome.error or outcome.reason or "the chunk was not stored")
            # Stored after the chunk's own transaction: a crash in between only re-reads that chunk.
            try:
                await calls.write(
                    "save backfill progress",
                    save_backfill_progress,
                    engine,
                    source.name,
                    since,
                    _stored_through(window, config),
                    clock.now(),
                )
            except StorageError as exc:
                return _fail(tally, observer, clock, str(exc))
            tally.weeks_stored += 1
            tally.counts += outcome.counts
            observer.chunk_stored(tally, outcome)
    finally:
        await pool.aclose()
    if windows:
        # Read oldest-first, the chunks reach the covered days only at the end: record the whole
        # range now, so the daemon does not backfill it again.
        try:
            await calls.write(
                "record coverage", record_coverage, engine, source.name, windows[0].first_day, windows[-1].last_day
            )
        except StorageError as exc:
            return _fail(tally, observer, clock, str(exc))
    tally.current = None
    tally.phase = Phase.DONE
    _finish(tally, observer, clock)
    return True


def _fail(tally: SourceTally, observer: BackfillObserver, clock: Clock, error: str) -> bool:
    tally.phase, tally.error = Phase.FAILED, error
    _finish(tally, observer, clock)
    return False


def _finish(tally: SourceTally, observer: BackfillObserver, clock: Clock) -> None:
    if tally.started_at is not None:
        tally.seconds = clock.monotonic() - tally.started_at
    observer.finished(tally)


class Backfill:
    """Backfill several sources, at most `concurrency` at once; `tallies` say how far each got."""

    def __init__(
        self,
        config: Config,
        sources: Sequence[Source],
        since: date,
        engine: Engine,
        clock: Clock,
        observer: BackfillObserver | None = None,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._config = config
        self._sources = list(sources)
        self._since = since
        self._engine = engine
        self._clock = clock
        self._observer = observer or _Silent()
        self._slots = asyncio.Semaphore(concurrency)
        # Shared by every source: once the database stops answering one, the others stop calling it.
        self._calls = DatabaseCalls()
        self.tallies = {source.name: SourceTally(source.name) for source in self._sources}

    async def run(self) -> bool:
        """Backfill every source; return True when all of them stored every chunk.

        Cancelled (Ctrl-C), the sources still reading are marked interrupted before it re-raises.
        """
        self._observer.begin(list(self.tallies.values()))
        try:
            async with asyncio.TaskGroup() as group:
                for account in vendor_accounts(self._sources):
                    group.create_task(self._take_turns(account))
        finally:
            for tally in self.tallies.values():
                if tally.phase in (Phase.QUEUED, Phase.RUNNING):
                    tally.phase = Phase.INTERRUPTED
                    if tally.started_at is not None:
                        tally.seconds = self._clock.monotonic() - tally.started_at
        return all(tally.ok for tally in self.tallies.values())

    async def _take_turns(self, account: list[Source]) -> None:
        for source in account:
            tally = self.tallies[source.name]
            async with self._slots:
                try:
                    await backfill_source(
                        self._config,
                        source,
                        self._since,
                        self._engine,
                        self._clock,
                        self._observer,
                        tally,
                        calls=self._calls,
                    )
                except Exception as exc:  # a bug in one source must not cancel the others
                    log.debug("backfill of %s crashed", source.name, exc_info=True)
                    _fail(tally, self._observer, self._clock, redact(f"{type(exc).__name__}: {exc}", source))


async def backfill_all(
    config: Config,
    sources: Sequence[Source],
    since: date,
    *,
    clock: Clock | None = None,
    observer: BackfillObserver | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> BackfillReport:
    """Open the configured database, backfill `sources` and report; a cancel (Ctrl-C) still reports.

    Whatever was stored before the cancel is kept: the same command resumes after it.
    """
    clock = clock or SystemClock()
    engine = create_engine_for(config.database_url)
    job = Backfill(config, sources, since, engine, clock, observer, concurrency=concurrency)
    started = clock.monotonic()
    interrupted = False
    try:
        await run_db(upgrade, engine)
        await job.run()
    except asyncio.CancelledError:
        # The caller (asyncio.run on Ctrl-C) asked to stop: stop, but hand back what was done.
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
        interrupted = True
    finally:
        engine.dispose()
    return BackfillReport(
        tuple(job.tallies[source.name] for source in sources), interrupted, clock.monotonic() - started
    )


def run_backfill(
    config: Config,
    sources: Sequence[Source],
    since: date,
    *,
    clock: Clock | None = None,
    observer: BackfillObserver | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> BackfillReport:
    """Backfill from a synchronous caller (the CLI); Ctrl-C ends it with a report, not a traceback."""
    return asyncio.run(backfill_all(config, sources, since, clock=clock, observer=observer, concurrency=concurrency))


def _weeks(n: int) -> str:
    return f"{n} week" if n == 1 else f"{n} weeks"
