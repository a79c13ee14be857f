"""`syncd backfill`: fetch history into storage in chunks, with a progress bar.

Each chunk is stored with its cursor in one transaction and its progress recorded, so an
interrupted backfill (Ctrl-C) keeps every finished chunk and the same command resumes after them.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import Engine

from connectors.base import SyncWindow, local_day
from syncd.clock import Clock, SystemClock
from syncd.model import Config, Source
from syncd.registry import load_registry
from syncd.run.source_stats import SourceStats
from syncd.run.sync import ConnectorPool, local_midnight_of, sync_window
from syncd.store import create_engine_for, load_source_states, upgrade
from syncd.store.backfill_repository import backfill_done_through, save_backfill_progress
from syncd.store.coverage_repository import record_coverage
from syncd.store.executor import run_db, run_db_write

__all__ = ["CHUNK_DAYS", "backfill_source", "plan_chunks", "run_backfill"]

# A week per chunk keeps each request window small and each committed step short.
CHUNK_DAYS = 7
# A backfill may wait on rate limits for a long time; bound each chunk, not the whole run.
CHUNK_DEADLINE_SECONDS = 1800.0


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


def run_backfill(config: Config, sources: list[Source], since: date, clock: Clock | None = None) -> bool:
    """Backfill every source from `since`; return True when every chunk was stored."""
    return asyncio.run(_backfill(config, sources, since, clock or SystemClock()))


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
    progress: Progress | None = None,
) -> bool:
    """Backfill one source in chunks, skipping the ones a previous, interrupted run already stored."""
    windows, notes = plan_chunks(config, source, since, clock)
    console = progress.console if progress is not None else None
    for note in notes:
        if console is not None:
            console.print(f"note: {note}")
    done = await run_db(backfill_done_through, engine, source.name, since)
    pending = [w for w in windows if done is None or w.last_day > done]
    task = (
        progress.add_task(source.name, total=len(windows), completed=len(windows) - len(pending)) if progress else None
    )
    stats = SourceStats(source.name, source.connector, source.interval_seconds)
    # One connector for every chunk, so its rate limiter spans the whole backfill.
    pool = ConnectorPool()
    try:
        for window in pending:
            states = await run_db(load_source_states, engine)
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
            )
            if not outcome.ok:
                if console is not None:
                    console.print(f"[red]{source.name}: stopped at {window.first_day}: {outcome.error}[/]")
                return False
            # Stored after the chunk's own transaction: a crash in between only re-reads that chunk.
            await run_db_write(
                save_backfill_progress, engine, source.name, since, _stored_through(window, config), clock.now()
            )
            if progress is not None and task is not None:
                progress.advance(task)
    finally:
        await pool.aclose()
    if windows:
        # Read oldest-first, the chunks reach the covered days only at the end: record the whole
        # range now, so the daemon does not backfill it again.
        await asyncio.to_thread(record_coverage, engine, source.name, windows[0].first_day, windows[-1].last_day)
    return True


async def _backfill(config: Config, sources: list[Source], since: date, clock: Clock) -> bool:
    engine = create_engine_for(config.database_url)
    await run_db(upgrade, engine)
    ok = True
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("weeks"),
        TimeRemainingColumn(),
    ) as progress:
        for source in sources:
            ok = await backfill_source(config, source, since, engine, clock, progress) and ok
    engine.dispose()
    return ok
