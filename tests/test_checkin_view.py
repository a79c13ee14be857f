"""Check-in results for readers: each goal gets its own, from the snapshot it reads, under one rule for periods."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from syncd.engine.checkin_results import CheckinResult
from syncd.engine.fast_evaluate import evaluate_goals_fast
from syncd.engine.snapshot import Snapshot
from syncd.serve import checkin_view
from syncd.serve.checkin_view import checkins_json, goal_ladder, last_results, shown_results
from syncd.serve.status_page import render_ladder
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
        period=f"{first:%Y-%m}",
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
    assert {level: [r.value for r in rs] for level, rs in goal_ladder(now, alice, previous_period=False).items()} == {
        "fortnight": [30.0],
        "week": [11.0, 3.0],
    }
    assert {level: [r.value for r in rs] for level, rs in goal_ladder(now, bob, previous_period=False).items()} == {
        "week": [4.0, 12.0]
    }
    assert [(goal.owner, r.level, r.value) for goal, r in last_results(now)] == [
        ("alice", "fortnight", 30.0),
        ("alice", "week", 3.0),
        ("bob", "week", 12.0),
    ]
    assert [r["value"] for r in checkins_json(now, "bob", previous_period=False)] == [4.0, 12.0]


def test_a_new_snapshots_results_are_read_not_the_last_ones():
    first = snapshot((result("alice", "week", date(2026, 11, 2), 11.0),))
    assert [r.value for r in goal_ladder(first, first.goals[0], previous_period=True)["week"]] == [11.0]
    second = snapshot(
        (result("alice", "week", date(2026, 11, 2), 11.0), result("alice", "week", date(2026, 11, 9), 7.0))
    )
    assert [r.value for r in goal_ladder(second, second.goals[0], previous_period=True)["week"]] == [11.0, 7.0]
    assert [r.value for r in goal_ladder(first, first.goals[0], previous_period=True)["week"]] == [
        11.0
    ]  # and back again
    assert goal_ladder(snapshot(()), first.goals[1], previous_period=True) == {"week": []}


def test_each_snapshot_keeps_its_own_grouping():
    first = snapshot((result("alice", "week", date(2026, 11, 2), 11.0),))
    second = snapshot((result("alice", "week", date(2026, 11, 9), 7.0), result("bob", "week", date(2026, 11, 9), 4.0)))
    # Read alternately: neither ever answers with the other's results.
    for _ in range(2):
        assert [r.value for r in first.checkins_by_goal["emails|alice|month"]] == [11.0]
        assert [r.value for r in second.checkins_by_goal["emails|alice|month"]] == [7.0]
        assert "emails|bob|month" not in first.checkins_by_goal
    assert first.checkins_by_goal is first.checkins_by_goal  # grouped once per snapshot
    assert replace(first, checkins=second.checkins).checkins_by_goal == second.checkins_by_goal
    assert not hasattr(checkin_view, "_grouped"), "no module-wide cache left"


def test_a_swapped_snapshot_with_the_same_results_takes_the_grouping_along():
    # Every tick and refresh publishes a new snapshot with the same results tuple: the grouping
    # (60 ms for 50,000 results) is carried over, and regrouped only when the results change.
    from syncd.engine.snapshot import SnapshotHolder

    first = snapshot((result("alice", "week", date(2026, 11, 2), 11.0),))
    holder = SnapshotHolder(first)
    grouped = first.checkins_by_goal
    ticked = replace(first, generated_at=first.generated_at)
    holder.swap(ticked)
    assert holder.current.checkins_by_goal is grouped
    judged = snapshot((result("alice", "week", date(2026, 11, 9), 7.0),))
    holder.swap(judged)
    assert [r.value for r in holder.current.checkins_by_goal["emails|alice|month"]] == [7.0]
    assert holder.current.checkins_by_goal is not grouped


# alice's weekly results over three months: September (two periods back), October (the previous
# period) and November (the current one, on 23 November).
THREE_MONTHS = (
    result("alice", "week", date(2026, 9, 28), 9.0),
    result("alice", "week", date(2026, 10, 19), 10.0),
    result("alice", "week", date(2026, 10, 26), 12.0),
    result("alice", "week", date(2026, 11, 9), 13.0),
    result("alice", "week", date(2026, 11, 16), 14.0),
)


def test_one_rule_the_current_period_and_on_request_the_previous_one():
    now = snapshot(THREE_MONTHS)
    alice = now.goals[0]
    assert [r.value for r in shown_results(now, alice, previous_period=False)] == [13.0, 14.0]
    assert [r.value for r in shown_results(now, alice, previous_period=True)] == [10.0, 12.0, 13.0, 14.0]
    # `syncd checkins` asks for the current period; the API, the page and last_hit for the previous one too.
    assert [r["value"] for r in checkins_json(now, "alice", previous_period=False)] == [13.0, 14.0]
    assert [r["value"] for r in checkins_json(now, "alice", previous_period=True)] == [10.0, 12.0, 13.0, 14.0]
    assert [r.checkpoint for r in goal_ladder(now, alice, previous_period=True)["week"]] == [
        "week-2026-10-19",
        "week-2026-10-26",
        "week-2026-11-09",
        "week-2026-11-16",
    ]
    page = render_ladder(now, alice)
    assert "week-2026-10-26" in page
    assert "week-2026-09-28" not in page


def test_in_a_periods_first_days_the_last_closed_checkin_is_the_previous_periods():
    # 3 November: no week of November has closed yet.
    config = make_config(CONFIG)
    early = Snapshot(
        generated_at=datetime(2026, 11, 3, 12, 0, tzinfo=UTC),
        goals=evaluate_goals_fast(config, {}, datetime(2026, 11, 3, 12, 0, tzinfo=UTC)),
        checkins=THREE_MONTHS[:3],
        ready=True,
    )
    alice = early.goals[0]
    assert shown_results(early, alice, previous_period=False) == ()
    assert [(goal.owner, r.checkpoint) for goal, r in last_results(early)] == [("alice", "week-2026-10-26")]
