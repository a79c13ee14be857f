"""What a scrape and a re-evaluation cost for a large team, against baselines measured in the same run.

Scrape: the daemon renders the exposition once per snapshot and serves the cached bytes; the
baseline renders it on every scrape (prometheus-client's `generate_latest`), as a naive exporter
would. Evaluation: after a sync, only the synced source's goals are recomputed; the baseline
recomputes every goal.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from prometheus_client import generate_latest

from syncd.config import parse_config
from syncd.engine.evaluate import evaluate_goals
from syncd.engine.snapshot import Snapshot
from syncd.run.daemon import Daemon
from syncd.serve.exposition import build_registry
from syncd.serve.web import WebState
from syncd.store import create_engine_for, upgrade

PEOPLE = 300
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SCRAPES = 20


class _FixedClock:
    def now(self) -> datetime:
        return NOW

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


def _config_text(db: Path) -> str:
    people = "\n".join(
        f"  p{i}: {{team: t{i % 10}, identities: {{lemlist: p{i}@acme.io, kit: tag{i}}}}}" for i in range(PEOPLE)
    )
    teams = "\n".join(f"  t{i}: {{}}" for i in range(10))
    goals = "\n".join(
        f"  - {{kpi: emails, owner: p{i}, period: month, target: 400, pacing: business_days, checkins: week}}\n"
        f"  - {{kpi: optins, owner: p{i}, period: quarter, target: 100}}"
        for i in range(PEOPLE)
    )
    return (
        f"database_url: sqlite:///{db}\nteams:\n{teams}\npeople:\n{people}\n"
        "sources:\n  lemlist: {connector: lemlist, api_key: bench-key-0001}\n"
        "  kit: {connector: kit, api_key: bench-key-0002}\n"
        "kpis:\n  emails: {source: lemlist, metric: emails_sent, per_person: true}\n"
        "  optins: {source: kit, metric: new_subscribers, per_person: true}\n"
        f"goals:\n{goals}\n"
    )


def _counts() -> dict[tuple[str, str], dict[str, dict[date, float]]]:
    days = [date(2026, 11, 1) + timedelta(days=n) for n in range(23)]
    return {
        ("lemlist", "emails_sent"): {f"p{i}@acme.io": dict.fromkeys(days, 12.0) for i in range(PEOPLE)},
        ("kit", "new_subscribers"): {f"tag{i}": dict.fromkeys(days, 2.0) for i in range(PEOPLE)},
    }


def _timed(action: object, repeat: int) -> float:
    assert callable(action)
    started = time.perf_counter()
    for _ in range(repeat):
        action()
    return (time.perf_counter() - started) / repeat


def main() -> None:
    """Print scrape and re-evaluation costs as ratios to their baselines."""
    with TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        config = parse_config(_config_text(db), file="bench")
        engine = create_engine_for(f"sqlite:///{db}")
        upgrade(engine)
        daemon = Daemon(config, engine, clock=_FixedClock())
        daemon.cache.counts.update(_counts())
        goals = evaluate_goals(config, daemon.cache.counts, NOW)
        daemon.holder.swap(Snapshot(generated_at=NOW, goals=goals, ready=True))
        state = WebState(holder=daemon.holder, readiness=lambda: asyncio.sleep(0, True))
        registry = build_registry(daemon.holder)
        series = generate_latest(registry).count(b"\n")

        baseline = _timed(lambda: generate_latest(registry), SCRAPES)
        state.metrics_bytes()
        cached = _timed(state.metrics_bytes, SCRAPES)
        print(
            f"scrape of {len(goals)} goals (~{series} lines): render every scrape {baseline * 1000:.1f} ms, "
            f"cached {cached * 1000:.3f} ms: {baseline / max(cached, 1e-9):.0f}x faster"
        )

        full = _timed(lambda: daemon._goal_statuses(NOW, None), 3)
        incremental = _timed(lambda: daemon._goal_statuses(NOW, (("kit", "new_subscribers"),)), 3)
        print(
            f"re-evaluation after one source's sync: all goals {full * 1000:.0f} ms, "
            f"only that source's {incremental * 1000:.0f} ms: {full / incremental:.1f}x faster"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
