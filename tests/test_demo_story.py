"""The demo tells a story: its configuration evaluated against the sandbox's generated activity."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from syncd.config import parse_config
from syncd.engine.snapshot import Snapshot
from syncd.run.daemon import Daemon
from syncd.run.demo_story import seed_recorded_counts
from syncd.sandbox.server import Sandbox
from syncd.sandbox.vendors import VENDORS
from syncd.store import create_engine_for, upgrade
from tests.fakes import FakeClock

DEMO = Path(__file__).resolve().parent.parent / "syncd" / "sandbox" / "demo.yaml"
# A Thursday afternoon late in November: mid-quarter, most of a month and of a week gone.
NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


async def demo_snapshot(tmp_path: Path) -> Snapshot:
    clock = FakeClock(NOW)
    engine = create_engine_for(f"sqlite:///{tmp_path / 'demo.db'}")
    upgrade(engine)
    async with Sandbox(clock=clock, vendors=list(VENDORS)) as sandbox:
        env = {"SYNCD_DEMO_LEMLIST_URL": sandbox.lemlist_url, "SYNCD_DEMO_KIT_URL": sandbox.kit_url}
        env |= {f"SYNCD_DEMO_{name.upper()}_URL": sandbox.url(name) for name in VENDORS}
        config = parse_config(DEMO.read_text(encoding="utf-8"), file=str(DEMO), environ=env)
        assert seed_recorded_counts(config, engine, now=NOW, seed=42) > 0
        daemon = Daemon(config, engine, clock=clock)
        for source in config.sources.values():
            if source.connector != "push":
                result = await daemon.sync_once(source)
                assert result.error is None, (source.name, result.error)
        await daemon.evaluate()
        await daemon.connectors.aclose()
    engine.dispose()
    return daemon.holder.current


async def test_the_demo_tells_a_story(tmp_path: Path):
    snapshot = await demo_snapshot(tmp_path)
    goals = {(g.kpi, g.owner): g for g in snapshot.goals}
    ratios = {key: g.figures.pace_ratio for key, g in goals.items()}
    statuses = {key: g.status for key, g in goals.items()}
    # Someone ahead, someone behind, nobody absurdly far off the curve, most close to it.
    assert {"ahead", "achieved"} & set(statuses.values()), statuses
    assert statuses[("outreach_emails_sent", "bob")] == "behind"
    assert all(0.2 <= r <= 3.0 for r in ratios.values()), ratios
    assert sum(0.7 <= r <= 1.3 for r in ratios.values()) >= 0.75 * len(ratios), ratios
    # The recorded interviews count: no goal sits at zero for want of an API.
    assert goals[("interviews_held", "carol")].value > 0
    # bob misses this week's check-in: a day before its end he is far short of it.
    checkpoint = goals[("outreach_emails_sent", "bob")].checkpoint
    assert checkpoint is not None
    assert checkpoint.value < 0.75 * checkpoint.target, checkpoint
    # The funnel: sending is the domino step, and bob converts best at every stage into replies.
    outcomes = {o.owner: o for o in snapshot.funnel_outcomes if o.funnel == "outreach"}
    assert outcomes["alice"].domino == "outreach_emails_sent"
    replies = [s for s in snapshot.funnels if s.funnel == "outreach" and s.to_step == "outreach_replies"]
    assert {s.benchmark_owner for s in replies} == {"bob"}
    rate = {s.owner: s.ratio for s in replies}
    assert rate["bob"] >= 1.5 * rate["alice"], rate


def test_the_running_demo_records_closed_days_but_never_over_a_hand_recorded_count(tmp_path: Path):
    from syncd.store.push_repository import PushedCount, apply_pushed_counts, load_pushed_value

    engine = create_engine_for(f"sqlite:///{tmp_path / 'demo.db'}")
    upgrade(engine)
    config = parse_config(DEMO.read_text(encoding="utf-8"), file=str(DEMO), environ={})
    # Thursday 26th: carol recorded 5 interviews on Tuesday by hand; Wednesday holds nothing yet.
    tuesday, wednesday = NOW.date().replace(day=24), NOW.date().replace(day=25)
    apply_pushed_counts(
        engine, source="interviews", counts=[PushedCount("interviews", "carol@acme.io", tuesday, 5.0)], at=NOW
    )
    recorded = seed_recorded_counts(config, engine, now=NOW, seed=42, days=3, keep_recorded=True)
    assert recorded == 2  # Monday and Wednesday: Tuesday was recorded by hand
    assert (
        load_pushed_value(engine, source="interviews", metric="interviews", subject="carol@acme.io", day=tuesday) == 5
    )
    wednesday_value = load_pushed_value(
        engine, source="interviews", metric="interviews", subject="carol@acme.io", day=wednesday
    )
    assert wednesday_value is not None
    # Run again (the next simulated hour): nothing more to record.
    assert seed_recorded_counts(config, engine, now=NOW, seed=42, days=3, keep_recorded=True) == 0
    engine.dispose()


async def test_the_demo_funnel_converts_plausibly_with_one_best_performer_per_stage(tmp_path: Path):
    snapshot = await demo_snapshot(tmp_path)
    stages: dict[tuple[str, str], dict[str, float]] = {}
    for s in snapshot.funnels:
        if s.funnel == "outreach" and s.ratio is not None:
            stages.setdefault((s.from_step, s.to_step), {})[s.owner] = s.ratio
    emails_to_replies = stages[("outreach_emails_sent", "outreach_replies")]
    replies_to_calls = stages[("outreach_replies", "calls_held")]
    # Nobody converts more than they start with: a reply books at most one call.
    assert all(0 < ratio < 1 for stage in stages.values() for ratio in stage.values()), stages
    assert all(0.03 <= ratio <= 0.2 for ratio in emails_to_replies.values()), emails_to_replies
    assert all(0.2 <= ratio <= 0.6 for ratio in replies_to_calls.values()), replies_to_calls
    # Each stage has one clear best performer (the benchmark), a quarter or more above the rest.
    for stage, rates in stages.items():
        best, *others = sorted(rates.values(), reverse=True)
        assert others, (stage, rates)
        assert best >= 1.25 * max(others), (stage, rates)
    benchmark = {(s.from_step, s.to_step): s.benchmark_owner for s in snapshot.funnels if s.funnel == "outreach"}
    # bob's emails get replies; alice's fewer replies turn into calls more often.
    assert benchmark == {
        ("outreach_emails_sent", "outreach_replies"): "bob",
        ("outreach_replies", "calls_held"): "alice",
    }
