"""The direct renderer makes exactly what generate_latest makes of the collector; gzip when asked."""

from __future__ import annotations

import asyncio
import gzip
import random
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from syncd.engine.fast_evaluate import evaluate_goals_fast
from syncd.engine.snapshot import CheckpointStatus, FunnelStage, Snapshot, SnapshotHolder, SourceStatus
from syncd.serve import render
from syncd.serve.exposition import build_registry
from syncd.serve.render import SnapshotRenderer
from syncd.serve.web import WebState, build_app
from tests.fakes import make_config
from tests.test_fast_evaluate import _random_case

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _snapshot(seed: int) -> Snapshot:
    text, counts, instant = _random_case(random.Random(seed))
    goals = list(evaluate_goals_fast(make_config(text), counts, instant))
    # Labels that need escaping, and a check-in id, on one goal.
    goals[0] = replace(
        goals[0],
        owner='o"dd\\one\nhere',
        team="équipe",
        checkpoint=CheckpointStatus(id="2026-W48", target=12.5, value=1e-7),
    )
    sources = (
        SourceStatus(
            name="lemlist",
            connector="lemlist",
            interval_seconds=300.0,
            up=True,
            last_success=NOW,
            syncs_total=3,
            failures={"rate_limited": 1},
            http_requests={"200": 9, "429": 1},
            rate_limit_remaining=17.0,
            duration_buckets=((0.5, 1), (1.0, 3), (float("inf"), 3)),
            duration_sum=1.75,
            duration_count=3,
        ),
        SourceStatus(name="kit", connector="kit", interval_seconds=60.0),
        SourceStatus(
            name='odd"name\\here',
            connector="http_json",
            interval_seconds=None,
            up=False,
            syncs_total=2,
            failures={"unavailable": 1, "auth": 1},
            suspect_reads_total=4,
            duration_buckets=((0.5, 0), (float("inf"), 2)),
            duration_sum=7.0,
            duration_count=2,
        ),
    )
    funnels = (FunnelStage("f", "a", "b", "p1", "t0", "2026-11", 10.0, 2.0, 0.2, 0.25, "p2"),)
    return Snapshot(
        generated_at=NOW,
        goals=tuple(goals),
        sources=sources,
        funnels=funnels,
        ready=True,
        backfill_remaining_days={"kit": 12},
    )


def _meaning(text: str) -> set[tuple[str, str, tuple[tuple[str, str], ...], float]]:
    return {
        (family.name, family.type, tuple(sorted(sample.labels.items())), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_the_renderer_equals_generate_latest_byte_for_byte_and_in_meaning() -> None:
    renderer = SnapshotRenderer()
    for seed in range(4):
        snapshot = _snapshot(seed)
        want = generate_latest(build_registry(SnapshotHolder(snapshot)))
        got = renderer.render(snapshot)  # the second round reuses the first's label strings
        assert got == want
        meaning = _meaning(got.decode())
        assert meaning == _meaning(want.decode())
        assert len(meaning) > 15 * len(snapshot.goals)  # about 17 series a goal
        owners = {dict(labels).get("owner") for _, _, labels, _ in meaning}
        assert 'o"dd\\one\nhere' in owners  # escaped on the way out, read back whole


def test_numbers_formatted_once_keep_their_sign_and_the_gzip_stream_holds_the_same_text() -> None:
    # The renderer formats each distinct number once and reuses the text: 0.0 and -0.0 are one dict
    # key but two texts, NaN never equals itself, and inf is +Inf.
    renderer = SnapshotRenderer()
    base = _snapshot(5)
    specials = (0.0, -0.0, float("nan"), float("inf"), 0.1 + 0.2, 12.0, 1e22)
    for round_ in range(3):
        goals = tuple(
            replace(goal, value=specials[(n + round_) % len(specials)], committed=specials[(n * 3 + round_) % 7])
            for n, goal in enumerate(base.goals)
        )
        snapshot = replace(base, goals=goals)
        want = generate_latest(build_registry(SnapshotHolder(snapshot)))
        assert renderer.render(snapshot) == want
        assert gzip.decompress(renderer.render_gzip(snapshot)) == want
    text = want.decode()
    assert "syncd_goal_value{" in text
    values = {line.rpartition(" ")[2] for line in text.splitlines() if line.startswith("syncd_goal_value{")}
    assert {"0.0", "-0.0", "NaN", "+Inf", "0.30000000000000004", "12.0", "1e+22"} <= values


async def test_metrics_are_gzipped_when_the_scraper_asks() -> None:
    snapshot = _snapshot(7)
    state = WebState(holder=SnapshotHolder(snapshot), readiness=lambda: asyncio.sleep(0, True))
    plain_bytes = generate_latest(build_registry(SnapshotHolder(snapshot)))
    async with TestClient(TestServer(build_app(state)), auto_decompress=False) as client:
        zipped = await client.get("/metrics", headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["Content-Encoding"] == "gzip"
        body = await zipped.read()
        assert gzip.decompress(body) == plain_bytes
        assert len(body) < len(plain_bytes) / 4

        plain = await client.get("/metrics", headers={"Accept-Encoding": "identity"})
        assert "Content-Encoding" not in plain.headers
        assert await plain.read() == plain_bytes

        refused = await client.get("/metrics", headers={"Accept-Encoding": "gzip;q=0, identity"})
        assert "Content-Encoding" not in refused.headers


def test_checkin_labels_are_cut_from_the_goal_labels_and_nothing_is_kept_per_checkin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A goal with weekly check-ins meets a new check-in id every week. The renderer keeps one label
    # string per goal and cuts the status and check-in labels from it at each render: the output
    # stays generate_latest's, escaping included, across chunks of any size.
    monkeypatch.setattr(render, "_CHUNK_LINES", 7)  # several chunks per family, one goal split from the next
    renderer = SnapshotRenderer()
    base = _snapshot(2)
    for week in range(1, 12):
        goal = replace(
            base.goals[0],
            checkpoints=(
                CheckpointStatus(id=f'2026-W{week:02d} "odd"\\', target=10.0, value=week, level="week"),
                CheckpointStatus(id=f"2026-{week:02d}", target=40.0, value=week, level='mo"nth'),
            ),
        )
        snapshot = replace(base, goals=(goal, *base.goals[1:]))
        assert renderer.render(snapshot) == generate_latest(build_registry(SnapshotHolder(snapshot)))
        assert gzip.decompress(renderer.render_gzip(snapshot)) == renderer.render(snapshot)
    assert len(renderer._labels) == len(base.goals)
    kept = next(iter(renderer._labels.values()))
    assert not hasattr(kept, "__dict__")  # the slots only: the label string and two cuts
