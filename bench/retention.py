"""Retention: a pruning batch against a bare DELETE of as many rows, and a sync's write while pruning runs.

1. Batches: old push receipts deleted 1,000 at a time, by `prune_push_receipts` (select the oldest,
   delete them by primary key, one transaction) and, as the baseline, by one bare DB-API
   `DELETE ... WHERE (source, key) IN (SELECT ... ORDER BY applied_at LIMIT 1000)` per transaction,
   on the same data in fresh databases. The ratio is syncd's mean batch over the bare one; the
   longest batch is how long a sync may wait for it.
2. A sync's wait: small `save_sync` writes, back to back from a thread, timed alone and then while
   the daemon's pruner (real clock, real pause) deletes the same receipts: the longest write during
   pruning should stay near the longest alone plus one batch.
SQLite always; PostgreSQL when SYNCD_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, insert, text

from bench.upsert import _postgres, _sqlite
from connectors.base import DailyCount
from syncd.clock import SystemClock
from syncd.config import parse_config
from syncd.run.retention import Pruner
from syncd.store import save_sync, upgrade
from syncd.store.push_models import PUSH_RECEIPTS
from syncd.store.retention import BATCH_ROWS, prune_push_receipts

RECEIPTS = 100_000
AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
OLD = AT - timedelta(days=60)
DAY = date(2026, 11, 22)
CONFIG = parse_config("sources: {}\nretention: {push_receipts: 30d, goal_versions: never}\n", file="bench", environ={})


def _seed(engine: Engine, receipts: int) -> None:
    upgrade(engine)
    step = 10_000
    with engine.begin() as connection:
        for start in range(0, receipts, step):
            connection.execute(
                insert(PUSH_RECEIPTS),
                [
                    {
                        "source": "calls",
                        "key": f"k{i:08d}",
                        "metric": "calls",
                        "subject": f"p{i % 500}",
                        "day": DAY,
                        "value": 1.0,
                        # Spread over a week, so "oldest first" has an order to follow.
                        "applied_at": OLD - timedelta(seconds=i % 604_800),
                    }
                    for i in range(start, min(start + step, receipts))
                ],
            )
    # Settle the fresh rows (PostgreSQL's hint bits, statistics) so the first pass timed pays no extra.
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE push_receipts"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE push_receipts"))


def _bare_batches(engine: Engine) -> list[float]:
    sqlite = engine.dialect.name == "sqlite"
    marker = "?" if sqlite else "%s"
    older_than = AT - timedelta(days=30)
    # SQLite holds naive UTC text (syncd.store.models.UTCDateTime); PostgreSQL a timestamptz.
    cutoff: object = older_than.replace(tzinfo=None).isoformat(sep=" ") if sqlite else older_than
    sql = (
        "DELETE FROM push_receipts WHERE (source, key) IN (SELECT source, key FROM push_receipts "  # noqa: S608
        f"WHERE applied_at < {marker} ORDER BY applied_at LIMIT {BATCH_ROWS})"
    )
    batches: list[float] = []
    connection = engine.raw_connection()
    try:
        while True:
            started = time.perf_counter()
            cursor = connection.cursor()
            if sqlite:
                cursor.execute("BEGIN IMMEDIATE")  # as syncd's writes take the lock
            cursor.execute(sql, (cutoff,))
            deleted = cursor.rowcount
            connection.commit()
            batches.append(time.perf_counter() - started)
            if deleted < BATCH_ROWS:
                return batches
    finally:
        connection.close()


def _syncd_batches(engine: Engine) -> list[float]:
    batches: list[float] = []
    while True:
        started = time.perf_counter()
        deleted = prune_push_receipts(engine, older_than=AT - timedelta(days=30))
        batches.append(time.perf_counter() - started)
        if deleted < BATCH_ROWS:
            return batches


def _write(engine: Engine, value: float) -> None:
    save_sync(
        engine,
        source="lemlist",
        metrics=["emails_sent"],
        counts=[DailyCount("emails_sent", f"p{i}@acme.io", DAY, value) for i in range(10)],
        replace_from=DAY,
        replace_to=DAY,
        cursor_end=AT,
        connector_state={},
        finished_at=AT,
    )


def _writes_until(engine: Engine, done: Callable[[], bool], at_least: int) -> list[float]:
    latencies: list[float] = []
    value = 0.0
    while len(latencies) < at_least or not done():
        value += 1
        started = time.perf_counter()
        _write(engine, value)
        latencies.append(time.perf_counter() - started)
        time.sleep(0.02)  # a sync's write now and then, not a write storm
    return latencies


def _writes_while_pruning(engine: Engine) -> tuple[list[float], float]:
    pruning_done = threading.Event()
    latencies: list[float] = []
    writer = threading.Thread(target=lambda: latencies.extend(_writes_until(engine, pruning_done.is_set, 20)))

    class Frozen(SystemClock):
        def now(self) -> datetime:
            return AT  # the receipts' age is measured from the benchmark's instant; sleeps are real

    pruner = Pruner(engine, Frozen(), lambda: CONFIG)

    async def prune() -> float:
        stop = asyncio.Event()

        async def wait(_: asyncio.Event, seconds: float) -> bool:
            await asyncio.sleep(seconds)
            return False

        started = time.perf_counter()
        await pruner.prune(stop, wait)
        return time.perf_counter() - started

    writer.start()
    try:
        elapsed = asyncio.run(prune())
    finally:
        pruning_done.set()
        writer.join()
    return latencies, elapsed


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _measure(name: str, fresh: Callable[[], Engine], receipts: int) -> None:
    engines = [fresh() for _ in range(3)]
    try:
        for engine in engines:
            _seed(engine, receipts)
        bare = _bare_batches(engines[0])
        syncd = _syncd_batches(engines[1])
        print(
            f"{name}: {receipts:,} receipts in batches of {BATCH_ROWS:,}: "
            f"bare DELETE mean {_ms(statistics.mean(bare))}, prune_push_receipts mean {_ms(statistics.mean(syncd))} = "
            f"{statistics.mean(syncd) / statistics.mean(bare):.2f}x; longest batch {_ms(max(syncd))} "
            f"(bare {_ms(max(bare))})"
        )
        alone = _writes_until(engines[2], lambda: True, 50)
        during, elapsed = _writes_while_pruning(engines[2])
        print(
            f"{name}: a 10-row sync write alone p50 {_ms(statistics.median(alone))} max {_ms(max(alone))}; "
            f"while the pruner ran ({elapsed:.1f} s with its pauses, {len(during)} writes) "
            f"p50 {_ms(statistics.median(during))} max {_ms(max(during))}"
        )
    finally:
        for engine in engines:
            engine.dispose()


def main(receipts: int = RECEIPTS) -> None:
    """Print a pruning batch's cost against a bare DELETE, and a sync write's latency while pruning runs."""
    with _sqlite() as fresh:
        _measure("SQLite", fresh, receipts)
    url = os.environ.get("SYNCD_TEST_POSTGRES_URL")
    if url:
        with _postgres(url) as fresh:
            _measure("PostgreSQL", fresh, receipts)
    else:
        print("PostgreSQL: skipped (set SYNCD_TEST_POSTGRES_URL)")
    sys.stdout.flush()


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:2]))
