"""A daemon with 10,000 goals: push throughput, scrape latency while it evaluates, peak RSS, growth.

Each size runs in a fresh child process (so its peak RSS is its own): SQLite storage seeded with
60 days of counts, the push API fed batches of 1,000 observations over HTTP, /metrics scraped
(gzip, as Prometheus asks) while evaluations run back to back. Baselines in the same run: storing
the same batch directly (`apply_pushed_counts`), and the same measurements at a tenth of the size.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

PEOPLE = 5_000  # 10,000 goals
BATCHES = 10
BATCH = 1_000
SCRAPES = 30
# The daemon evaluates every 15 s; here every second, so scrapes meet fresh snapshots and busy threads.
EVALUATE_EVERY = 1.0
SCRAPE_EVERY = 0.2
TOKEN = "bench-push-token-0123456789"  # noqa: S105 - the workload's own test token


async def _child(people: int, db: Path, scrapes: int) -> dict[str, float]:
    from aiohttp.test_utils import TestClient, TestServer

    from bench import _workload as w
    from connectors.base import DailyCount
    from syncd.run.daemon import Daemon
    from syncd.serve.push import push_routes
    from syncd.serve.web import build_app
    from syncd.store import create_engine_for, upgrade
    from syncd.store.push_repository import PushedCount, apply_pushed_counts
    from syncd.store.repository import save_sync

    class Clock:
        def now(self) -> object:
            return w.NOW

        def monotonic(self) -> float:
            return time.monotonic()

        async def sleep(self, seconds: float) -> None:
            await asyncio.sleep(0)

    config = w.config(people, db, push=True)
    engine = create_engine_for(f"sqlite:///{db}")
    upgrade(engine)
    days = [w.NOW.date() - timedelta(days=n) for n in range(60)]
    # Seeded a few days at a time, so the seed's own rows do not set the process's peak RSS.
    for chunk in range(0, len(days), 5):
        some = days[chunk : chunk + 5]
        rows = [DailyCount("emails_sent", f"p{i}@acme.io", day, float(i % 30)) for i in range(people) for day in some]
        save_sync(
            engine,
            source="lemlist",
            metrics=["emails_sent"],
            counts=rows,
            replace_from=some[-1],
            replace_to=some[0],
            cursor_end=w.NOW,
            connector_state={},
            finished_at=w.NOW,
        )
        del rows
    daemon = Daemon(config, engine, clock=Clock(), extra_routes=push_routes)  # type: ignore[arg-type]
    started = time.perf_counter()
    await daemon.evaluate()
    first = time.perf_counter() - started
    started = time.perf_counter()
    await daemon.evaluate()
    tick = time.perf_counter() - started

    def batch(n: int) -> list[dict[str, object]]:
        return [
            {
                "metric": "new_subscribers",
                "subject": f"tag{(n * BATCH + k) % people}",
                "day": str(days[k % 30]),
                "value": float(k % 7),
            }
            for k in range(BATCH)
        ]

    direct = [
        PushedCount(
            metric="new_subscribers", subject=f"tag{k % people}", day=days[k % 30], value=1.0, mode="set", key=None
        )
        for k in range(BATCH)
    ]
    started = time.perf_counter()
    apply_pushed_counts(engine, source="kit", counts=direct, at=w.NOW)
    direct_seconds = time.perf_counter() - started

    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with TestClient(TestServer(build_app(daemon.web_state))) as client:
        started = time.perf_counter()
        for n in range(BATCHES):
            response = await client.post(
                "/api/v1/sources/kit/observations", json={"observations": batch(n)}, headers=headers
            )
            assert response.status == 200, await response.text()
        pushed = time.perf_counter() - started
        await daemon.refresher.settle()
        visible = time.perf_counter() - started - pushed

        stop = asyncio.Event()

        async def evaluate_forever() -> None:
            ticks = 0
            while not stop.is_set():
                await daemon.evaluate()
                ticks += 1
                await asyncio.sleep(EVALUATE_EVERY)

        evaluator = asyncio.create_task(evaluate_forever())
        latencies = []
        for _ in range(scrapes):
            started = time.perf_counter()
            response = await client.get("/metrics", headers={"Accept-Encoding": "gzip"})
            await response.read()
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(SCRAPE_EVERY)
        stop.set()
        await evaluator
    engine.dispose()
    return {
        "goals": len(config.goals),
        "first_evaluation": first,
        "tick": tick,
        "push_per_second": BATCHES * BATCH / pushed,
        "push_seconds": pushed / BATCHES,
        "direct_seconds": direct_seconds,
        "visible_after": visible,
        "scrape_p50": statistics.median(latencies),
        "scrape_max": max(latencies),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child(people: int, scrapes: int = SCRAPES) -> None:
    """Run one size and print its figures as JSON (called in a fresh process)."""
    with TemporaryDirectory() as tmp:
        print(json.dumps(asyncio.run(_child(people, Path(tmp) / "bench.db", scrapes))))


def _run(people: int, scrapes: int) -> dict[str, float]:
    code = f"from bench.daemon import child; child({people}, {scrapes})"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)  # noqa: S603
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(people: int = PEOPLE, scrapes: int = SCRAPES) -> None:
    """Print the daemon's figures at 1x and 10x, with ratios."""
    small, big = _run(max(1, people // 10), scrapes), _run(people, scrapes)
    print(
        f"{big['goals']:.0f} goals: first evaluation {big['first_evaluation']:.2f} s, next {big['tick']:.2f} s; "
        f"growth from {small['goals']:.0f} goals {big['tick'] / small['tick']:.1f}x (goal <= 12x)"
    )
    print(
        f"push of {BATCH} observations: {big['push_seconds'] * 1000:.0f} ms = "
        f"{big['push_seconds'] / big['direct_seconds']:.1f}x storing it directly; "
        f"{big['push_per_second']:.0f} observations/s (goal >= 20,000); on /metrics {big['visible_after']:.2f} s later"
    )
    print(
        f"scrape while evaluating every {EVALUATE_EVERY:.0f} s: p50 {big['scrape_p50'] * 1000:.1f} ms (goal <= 50 ms), "
        f"max {big['scrape_max'] * 1000:.0f} ms"
    )
    print(
        f"peak RSS {big['peak_rss_mb']:.0f} MB (goal <= 200 MB; {small['peak_rss_mb']:.0f} MB at "
        f"{small['goals']:.0f} goals)"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
