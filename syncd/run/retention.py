"""The daemon's retention job: prune old push receipts and replaced goal versions, in small batches.

It runs shortly after start and then hourly, each batch on the database executor in its own
short transaction (syncd.store.retention), pausing between batches so that a sync or a push
waiting to write gets the database in between: on SQLite one writer holds the whole file, so
a sync waits for one batch at most, never for a whole round. Replicas may all prune at once:
each batch skips the rows another replica is deleting. Daily counts are never pruned.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from syncd.clock import Clock
from syncd.engine.evaluate import period_at, previous_period
from syncd.errors import StorageError
from syncd.model import Config
from syncd.sharding import Shard, goal_in_shard
from syncd.store.executor import run_db_write
from syncd.store.goal_history import goal_key
from syncd.store.retention import BATCH_ROWS, VersionCursor, prune_goal_versions, prune_push_receipts

__all__ = ["BATCH_PAUSE_SECONDS", "EVERY_SECONDS", "FIRST_RUN_SECONDS", "PruneRound", "Pruner", "versions_in_use"]

log = logging.getLogger(__name__)

# Soon after start, but after the first syncs and the first evaluation have had the database.
FIRST_RUN_SECONDS = 60.0
EVERY_SECONDS = 3600.0
# Longer than SQLite's longest busy-handler sleep (100 ms), so a writer that found the file locked
# during a batch wakes inside the pause and takes the lock before the next batch does.
BATCH_PAUSE_SECONDS = 0.25

# Sleeps `seconds` on the daemon's clock; True when asked to stop (Daemon._wait).
Wait = Callable[[asyncio.Event, float], Awaitable[bool]]


@dataclass(frozen=True)
class PruneRound:
    """Rows one round deleted, per table."""

    push_receipts: int = 0
    goal_versions: int = 0


def versions_in_use(config: Config, at: datetime) -> dict[str, datetime]:
    """Return, per configured goal key, the earliest instant whose goal version is still read.

    Check-ins are judged over the current and the previous period, each with the version in
    force at its end (syncd.engine.checkins), so a version in force at or after the previous
    period's start must stay, however old its replacement.
    """
    keep_from: dict[str, datetime] = {}
    for goal in config.goals:
        period = previous_period(config, goal.period, at) or period_at(config, goal.period, at)
        keep_from[goal_key(goal)] = period.start(config.timezone)
    return keep_from


class Pruner:
    """Prune what the running configuration's `retention` says, a batch at a time."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        config: Callable[[], Config],
        *,
        batch_rows: int = BATCH_ROWS,
        pause_seconds: float = BATCH_PAUSE_SECONDS,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self._config = config  # read at each round: a reload's retention applies from the next one
        self.batch_rows = batch_rows
        self.pause_seconds = pause_seconds
        # Rows deleted by this process since it started, per table.
        self.pruned: dict[str, int] = {"push_receipts": 0, "goal_versions": 0}

    async def run(self, stop: asyncio.Event, wait: Wait) -> None:
        """Prune shortly after start, then every hour, until `stop`; a failed round waits for the next."""
        delay = FIRST_RUN_SECONDS
        while not await wait(stop, delay):
            try:
                await self.prune(stop, wait)
            except StorageError as exc:
                log.warning("retention: pruning stopped until the next round: %s", exc)
            except Exception:  # the task must outlive any one round, as the refresher does
                log.exception("retention: unexpected error; pruning again next round")
            delay = EVERY_SECONDS

    async def prune(self, stop: asyncio.Event, wait: Wait) -> PruneRound:
        """Run one round over every table with a retention age; stop early when asked."""
        config = self._config()
        now = self.clock.now()
        receipts = versions = 0
        age = config.retention.push_receipts
        if age is not None:
            receipts = await self._prune_receipts(now - age, stop, wait)
        age = config.retention.goal_versions
        if age is not None and not stop.is_set():
            versions = await self._prune_versions(config, now, now - age, stop, wait)
        if receipts or versions:
            log.info("retention: pruned %d push receipts and %d replaced goal versions", receipts, versions)
        return PruneRound(push_receipts=receipts, goal_versions=versions)

    async def _prune_receipts(self, older_than: datetime, stop: asyncio.Event, wait: Wait) -> int:
        total = 0
        while True:
            deleted = await run_db_write(prune_push_receipts, self.engine, older_than=older_than, limit=self.batch_rows)
            total += deleted
            self.pruned["push_receipts"] += deleted
            # A short batch means nothing older is left (or only rows another replica is deleting).
            if deleted < self.batch_rows or await wait(stop, self.pause_seconds):
                return total

    async def _prune_versions(
        self, config: Config, now: datetime, older_than: datetime, stop: asyncio.Event, wait: Wait
    ) -> int:
        keep_from = versions_in_use(config, now)
        owns = _owner_of(config.shard)
        total = 0
        after: VersionCursor | None = None
        while True:
            batch = await run_db_write(
                prune_goal_versions,
                self.engine,
                older_than=older_than,
                keep_from=keep_from,
                owns=owns,
                after=after,
                limit=self.batch_rows,
            )
            total += batch.deleted
            self.pruned["goal_versions"] += batch.deleted
            after = batch.after
            if after is None or await wait(stop, self.pause_seconds):
                return total


def _owner_of(shard: Shard | None) -> Callable[[str], bool] | None:
    """Return what says a goal key is this shard's: another shard keeps (and prunes) its own goals' versions."""
    if shard is None:
        return None
    return lambda key: goal_in_shard(key, shard)
