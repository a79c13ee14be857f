"""`syncd backfill`: fetch history into storage in chunks, with a progress bar.

Each chunk is stored with its cursor in one transaction, so an interrupted backfill keeps every
finished chunk, and the daemon's next sync resumes from the last stored cursor.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from connectors.base import SyncWindow, local_day
from syncd.clock import Clock, SystemClock
from syncd.model import Config, Source
from syncd.registry import load_registry
from syncd.source_stats import SourceStats
from syncd.store import create_engine_for, load_source_states, upgrade
from syncd.sync import local_midnight_of, sync_window

__all__ = ["CHUNK_DAYS", "plan_chunks", "run_backfill"]

# A week per chunk keeps each request window small and each committed step short.
CHUNK_DAYS = 7
# A backfill may wait on rate limits for a long time; bound each chunk, not the whole run.
CHUNK_DEADLINE_SECONDS = 1800.0


def plan_chunks(config: Config, source: Source, since: date, clock: Clock) -> tuple[list[SyncWindow], list[str]]:
    """Split [since, now) into week-long windows, clipped to the vendor's history limit."""
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


async def _backfill(config: Config, sources: list[Source], since: date, clock: Clock) -> bool:
    engine = create_engine_for(config.database_url)
    await asyncio.to_thread(upgrade, engine)
    ok = True
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("weeks"),
        TimeRemainingColumn(),
    ) as progress:
        for source in sources:
            windows, notes = plan_chunks(config, source, since, clock)
            for note in notes:
                progress.console.print(f"note: {note}")
            task = progress.add_task(source.name, total=len(windows))
            stats = SourceStats(source.name, source.connector, source.interval_seconds)
            for window in windows:
                states = await asyncio.to_thread(load_source_states, engine)
                outcome = await sync_window(
                    config,
                    source,
                    engine,
                    clock,
                    stats,
                    window,
                    states.get(source.name),
                    deadline=CHUNK_DEADLINE_SECONDS,
                )
                if not outcome.ok:
                    progress.console.print(f"[red]{source.name}: stopped at {window.first_day}: {outcome.error}[/]")
                    ok = False
                    break
                progress.advance(task)
    engine.dispose()
    return ok
