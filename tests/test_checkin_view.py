"""Check-in results grouped per goal for readers: each goal gets its own, from the snapshot it reads."""

from __future__ import annotations

from datetime import UTC, date, datetime

from syncd.engine.checkin_results import CheckinResult
from syncd.engine.fast_evaluate import evaluate_goals_fast
from syncd.engine.snapshot import Snapshot
from syncd.serve.checkin_view import checkins_json, goal_ladder, last_results
from tests.fakes import make_config

CONFIG = """
people:
  alice: {identities: {lemlist: alice@acme.io}}
  bob: {identities: {lemlist: bob@acme.io}}
sources:
  lemlist: {connector: lemlist, api_key: x}
kpis:
  emails: {source: lemlist, metric: emails_sent, per_person: true}
goals:
  - {kpi: emails, owner: alice, period: month, target: 310, checkins: [week, fortnight]}
  - {kpi: emails, owner: bob, period: month, target: 100, checkins: week}
"""
AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def result(owner: str, level: str, first: date, value: float) -> CheckinResult:
    return CheckinResult(
        goal_key=f"emails|{owner}|month",
        kpi="emails",
        owner=owner,
        level=level,
        checkpoint=f"{level}-{first.isoformat()}",
        period="2026-11",
        first_day=first,
        last_day=first,
        target=10.0,
        value=value,
        unknown_days=0,
        outcome="hit" if value >= 10 else "missed",
        final=True,
    )


def snapshot(checkins: tuple[CheckinResult, ...]) -> Snapshot:
    config = make_config(CONFIG)
    return Snapshot(generated_at=AT, goals=evaluate_goals_fast(config, {}, AT), checkins=checkins, ready=True)


def test_each_goal_reads_only_its_results_per_level_oldest_first():
    # Stored interleaved and out of order, as results of many goals come back from the database.
    stored = (
        result("bob", "week", date(2026, 11, 9), 12.0),
        result("alice", "week", date(2026, 11, 9), 3.0),
        result("alice", "fortnight", date(2026, 11, 2), 30.0),
        result("bob", "week", date(2026, 11, 2), 4.0),
        result("alice", "week", date(2026, 11, 2), 11.0),
    )
    now = snapshot(stored)
    alice, bob = now.goals
    assert {level: [r.value for r in rs] for level, rs in goal_ladder(now, alice).items()} == {
        "fortnight": [30.0],
        "week": [11.0, 3.0],
    }
    assert {level: [r.value for r in rs] for level, rs in goal_ladder(now, bob).items()} == {"week": [4.0, 12.0]}
    assert [(goal.owner, r.level, r.value) for goal, r in last_results(now)] == [
        ("alice", "fortnight", 30.0),
        ("alice", "week", 3.0),
        ("bob", "week", 12.0),
    ]
    assert [r["value"] for r in checkins_json(now, "bob")] == [4.0, 12.0]


def test_a_new_snapshots_results_are_read_not_the_last_ones():
    first = snapshot((result("alice", "week", date(2026, 11, 2), 11.0),))
    assert [r.value for r in goal_ladder(first, first.goals[0])["week"]] == [11.0]
    second = snapshot(
        (result("alice", "week", date(2026, 11, 2), 11.0), result("alice", "week", date(2026, 11, 9), 7.0))
    )
    assert [r.value for r in goal_ladder(second, second.goals[0])["week"]] == [11.0, 7.0]
    assert [r.value for r in goal_ladder(first, first.goals[0])["week"]] == [11.0]  # and back again
    assert goal_ladder(snapshot(()), first.goals[1]) == {"week": []}
