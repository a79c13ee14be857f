"""Rendering the exposition of 10,000 goals: syncd's renderer against `generate_latest`, same run.

Both render the same snapshot; the ratio is what a new snapshot costs the first scrape after it.
Also printed: gzip of the result (what a scraper sending Accept-Encoding: gzip gets).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from prometheus_client import generate_latest

from bench import _workload as w
from syncd.engine.fast_evaluate import evaluate_goals_fast
from syncd.engine.snapshot import Snapshot, SnapshotHolder
from syncd.serve.exposition import build_registry
from syncd.serve.render import SnapshotRenderer, gzipped

PEOPLE = 5_000  # 10,000 goals
REPEAT = 3


def _best(action: Callable[[], object], repeat: int = REPEAT) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def main(people: int = PEOPLE) -> None:
    """Print the renderer's cost as a ratio to generate_latest's."""
    config, counts = w.config(people), w.counts(people, days=120)
    snapshot = Snapshot(generated_at=w.NOW, goals=evaluate_goals_fast(config, counts, w.NOW), ready=True)
    registry = build_registry(SnapshotHolder(snapshot))
    baseline = _best(lambda: generate_latest(registry))
    cold = _best(lambda: SnapshotRenderer().render(snapshot))
    renderer = SnapshotRenderer()
    body = renderer.render(snapshot)
    assert body == generate_latest(registry)
    warm = _best(lambda: renderer.render(snapshot))
    squeeze = _best(lambda: gzipped(body))
    streamed = _best(lambda: renderer.render_gzip(snapshot))  # what the daemon does once per snapshot
    lines = body.count(b"\n")
    print(
        f"{len(snapshot.goals)} goals, {lines} lines, {len(body) / 1e6:.1f} MB: "
        f"generate_latest {baseline * 1000:.0f} ms; renderer {warm * 1000:.0f} ms = {warm / baseline:.2f}x "
        f"(goal <= 0.2x), with fresh label strings {cold * 1000:.0f} ms = {cold / baseline:.2f}x"
    )
    print(
        f"gzip level 1: {squeeze * 1000:.0f} ms = {squeeze / baseline:.2f}x generate_latest, "
        f"{len(gzipped(body)) / 1e6:.2f} MB ({len(body) / len(gzipped(body)):.0f}x smaller); "
        f"rendered and compressed family by family (the daemon's way) {streamed * 1000:.0f} ms = "
        f"{streamed / baseline:.2f}x"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:2]))
