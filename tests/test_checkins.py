"""Check-ins: nested levels, and finished ones judged with the goal version of their time (hand-computed)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from syncd.engine.checkins import SourceCoverage, judge_checkins
from syncd.engine.evaluate import evaluate_goal, evaluate_goals
from syncd.engine.fast_evaluate import evaluate_goals_fast
from syncd.engine.snapshot import Snapshot, SnapshotHolder
from syncd.errors import ConfigError
from syncd.model import Goal
from syncd.serve.exposition import build_registry
from tests.fakes import make_config

CONFIG = """
people:
  alice: {identities: {lemlist: alice@acme.io}}
sources:
  lemlist: {connector: lemlist, api_key: "${LEMLIST_API_KEY}", lookback: 3d}
kpis:
  emails: {source: lemlist, metric: emails_sent, per_person: true}
goals:
  - {kpi: emails, owner: alice, period: PERIOD, target: TARGET, checkins: LEVELS}
"""
AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # Monday noon
RENEGOTIATED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def config_with(period: str = "month", target: str = "310", levels: str = "week"):
    return make_config(CONFIG.replace("PERIOD", period).replace("TARGET", target).replace("LEVELS", levels))


def daily(first: date, last: date, per_day: float = 10.0, skip: tuple[date, ...] = ()) -> dict[date, float]:
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return {day: per_day for day in days if day not in skip}


def counts(days: dict[date, float]):
    return {("lemlist", "emails_sent"): {"alice@acme.io": days}}


def versions(goal: Goal):
    """October's target was 310 (10 a day); on 2 November it was raised to 620 for November on."""
    october, november = replace(goal, target=310.0), replace(goal, target=620.0)
    return lambda at: october if at < RENEGOTIATED else november


SYNCED = {"lemlist": SourceCoverage(date(2026, 10, 5), datetime(2026, 11, 23, 11, 0, tzinfo=UTC), timedelta(days=3))}


def by_id(results):
    return {r.checkpoint: r for r in results}


def test_past_checkins_keep_the_target_of_their_time_and_unsynced_days_are_unknown():
    config = config_with()
    goal = config.goals[0]
    # Stored from 5 October (nothing earlier was ever synced); 14 October was a quiet day.
    data = counts(daily(date(2026, 10, 5), date(2026, 11, 23), skip=(date(2026, 10, 14),)))
    results = by_id(judge_checkins(config, goal, data, AT, version_at=versions(goal), coverage=SYNCED))

    # October, 31 days at 310: a full week asks 70, whatever November's target became.
    w41 = results["2026-W41"]
    assert (w41.target, w41.value, w41.outcome, w41.final, w41.period) == (70.0, 70.0, "hit", True, "2026-10")
    w42 = results["2026-W42"]  # one quiet day: a known zero, so a real miss
    assert (w42.target, w42.value, w42.unknown_days, w42.outcome, w42.final) == (70.0, 60.0, 0, "missed", True)
    # 1..4 October were never synced: unknown, not four zeros; the check-in is incomplete.
    first = results["2026-10-01..2026-10-04"]
    assert (first.target, first.value, first.unknown_days, first.outcome, first.final) == (
        40.0,
        0.0,
        4,
        "incomplete",
        False,
    )
    # November's weeks are judged with 620: 7 of 30 days.
    w45 = results["2026-W45"]
    assert w45.target == pytest.approx(620 * 7 / 30)
    assert (w45.value, w45.outcome, w45.final) == (70.0, "missed", True)
    # W47 closed last night, but the source has not yet re-read it through its 3-day lookback.
    w47 = results["2026-W47"]
    assert (w47.outcome, w47.final) == ("missed", False)
    assert "2026-W48" not in results  # still running
    assert [r.level for r in results.values()] == ["week"] * len(results)


def test_days_after_the_cursor_are_unknown_but_a_flow_already_at_target_is_a_hit():
    config = config_with()
    goal = config.goals[0]
    data = counts(daily(date(2026, 10, 1), date(2026, 11, 9), per_day=30.0))
    # The source went down: its last full window ended at midnight starting 10 November.
    stalled = {"lemlist": SourceCoverage(date(2026, 10, 1), datetime(2026, 11, 10, tzinfo=UTC), timedelta(days=3))}
    results = by_id(judge_checkins(config, goal, data, AT, version_at=versions(goal), coverage=stalled))
    w46 = results["2026-W46"]  # 9..15 November: only the 9th synced, 30 of 144.67
    assert (w46.value, w46.unknown_days, w46.outcome, w46.final) == (30.0, 6, "incomplete", False)
    w45 = results["2026-W45"]  # hit, though the cursor stopped inside its lookback: late data may still come
    assert (w45.value, w45.outcome, w45.final) == (210.0, "hit", False)
    end_of_october = results["2026-10-26..2026-10-31"]
    assert (end_of_october.value, end_of_october.outcome, end_of_october.final) == (180.0, "hit", True)
    never = judge_checkins(config, goal, data, AT, version_at=versions(goal), coverage={})
    assert {r.outcome for r in never if r.value < r.target} == {"incomplete"}
    assert not any(r.final for r in never)


def test_push_sources_have_no_cursor_and_settle_when_closed():
    config = config_with()
    goal = config.goals[0]
    data = counts(daily(date(2026, 11, 2), date(2026, 11, 22)))
    pushed = {"lemlist": SourceCoverage(date(2026, 11, 2), None, pulled=False)}
    results = by_id(judge_checkins(config, goal, data, AT, version_at=versions(goal), coverage=pushed))
    assert (results["2026-W47"].outcome, results["2026-W47"].final) == ("missed", True)
    assert (results["2026-11-01..2026-11-01"].unknown_days, results["2026-11-01..2026-11-01"].final) == (1, False)


def test_nested_levels_each_follow_the_goal_curve():
    # Q4 2026 has 92 days; 920 is 10 a day. Fortnights step from 1 October.
    config = config_with(period="quarter", target="920", levels="[week, month, fortnight]")
    goal = config.goals[0]
    assert goal.checkins == ("month", "fortnight", "week")
    data = counts({**daily(date(2026, 10, 1), date(2026, 11, 22)), date(2026, 11, 23): 4.0})
    status = evaluate_goal(config, goal, data, AT)
    got = [(c.level, c.id, c.target, c.value) for c in status.checkpoints]
    assert got == [
        ("month", "2026-11", 300.0, 224.0),
        ("fortnight", "2026-11-12..2026-11-25", 140.0, 114.0),
        ("week", "2026-W48", 70.0, 4.0),
    ]
    assert status.checkpoint == status.checkpoints[-1]  # `checkpoint` stays the finest level
    body = status.as_json()
    assert body["checkpoint"] == {"id": "2026-W48", "target": 70.0, "value": 4.0}
    assert body["checkpoints"] == [
        {"level": "month", "id": "2026-11", "target": 300.0, "value": 224.0},
        {"level": "fortnight", "id": "2026-11-12..2026-11-25", "target": 140.0, "value": 114.0},
        {"level": "week", "id": "2026-W48", "target": 70.0, "value": 4.0},
    ]
    coverage = {"lemlist": SourceCoverage(date(2026, 10, 1), AT, timedelta(days=3))}
    results = judge_checkins(config, goal, data, AT, version_at=lambda _: goal, coverage=coverage)
    # Q3 was never synced: its three months are incomplete, not missed.
    assert [(r.checkpoint, r.outcome) for r in results if r.period == "2026-Q3" and r.level == "month"] == [
        ("2026-07", "incomplete"),
        ("2026-08", "incomplete"),
        ("2026-09", "incomplete"),
    ]
    q4 = [r for r in results if r.period == "2026-Q4"]
    october = [r for r in q4 if r.level == "month"]
    assert [(r.checkpoint, r.target, r.value, r.outcome) for r in october] == [("2026-10", 310.0, 310.0, "hit")]
    fortnights = [r.checkpoint for r in q4 if r.level == "fortnight"]
    assert fortnights == ["2026-10-01..2026-10-14", "2026-10-15..2026-10-28", "2026-10-29..2026-11-11"]


@pytest.mark.parametrize(
    ("period", "levels", "message"),
    [
        ("month", "month", "goals[0].checkins: month is not shorter than the goal's period (month)"),
        ("week", "[week]", "goals[0].checkins: week is not shorter than the goal's period (week)"),
        ("quarter", "[week, week]", "goals[0].checkins: a level appears twice"),
        (
            "{start: 2026-11-01, end: 2026-11-10}",
            "[week, fortnight]",
            "goals[0].checkins: fortnight is not shorter than the goal's period (10 days)",
        ),
    ],
)
def test_a_level_not_shorter_than_the_period_is_one_clear_line(period: str, levels: str, message: str):
    with pytest.raises(ConfigError) as caught:
        config_with(period=period, levels=levels)
    lines = [str(problem) for problem in caught.value.problems]
    assert len(lines) == 1
    assert lines[0].endswith(message)


def test_a_checkin_without_a_working_day_is_not_judged():
    """November 2026 starts on a Sunday: its first weekly check-in is that Sunday alone, which a
    business-day curve asks nothing of. 0 of 0 is neither a hit nor a miss, so it is not judged."""
    config = make_config(
        CONFIG.replace("PERIOD", "month")
        .replace("TARGET", "400")
        .replace("LEVELS", "week")
        .replace("checkins: week}", "checkins: week, pacing: business_days}")
    )
    goal = config.goals[0]
    assert goal.pacing == "business_days"
    data = counts(daily(date(2026, 11, 2), date(2026, 11, 22), per_day=0.0))
    pushed = {"lemlist": SourceCoverage(date(2026, 10, 1), None, pulled=False)}
    results = by_id(judge_checkins(config, goal, data, AT, version_at=lambda at: goal, coverage=pushed))
    assert "2026-11-01..2026-11-01" not in results
    # The working weeks are judged: 21 working days in November, 5 in each full week.
    november = [r for r in results.values() if r.period == "2026-11"]
    assert [(r.checkpoint, r.target, r.outcome) for r in november] == [
        ("2026-W45", pytest.approx(400 * 5 / 21), "missed"),
        ("2026-W46", pytest.approx(400 * 5 / 21), "missed"),
        ("2026-W47", pytest.approx(400 * 5 / 21), "missed"),
    ]


@pytest.mark.parametrize("evaluate", [evaluate_goals, evaluate_goals_fast], ids=["reference", "fast"])
def test_a_current_checkin_the_curve_asks_nothing_of_is_not_exported(evaluate) -> None:
    """Sunday 1 November 2026: the month's first week is that Sunday alone, which a business-day curve
    asks nothing of, so judging skips it; the live metrics must not publish it as a target of 0."""
    config = make_config(
        CONFIG.replace("PERIOD", "month")
        .replace("TARGET", "210")
        .replace("LEVELS", "[fortnight, week]")
        .replace("checkins: [fortnight, week]}", "checkins: [fortnight, week], pacing: business_days}")
    )
    data = counts({date(2026, 11, 1): 4.0, date(2026, 11, 2): 9.0})

    def exported(at: datetime) -> dict[tuple[str, str, str], float]:
        goals = evaluate(config, data, at)
        body = generate_latest(build_registry(SnapshotHolder(Snapshot(generated_at=at, goals=goals, ready=True))))
        return {
            (sample.name, sample.labels["level"], sample.labels["checkpoint"]): sample.value
            for family in text_string_to_metric_families(body.decode())
            for sample in family.samples
            if sample.name.startswith("syncd_checkpoint_")
        }

    sunday = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    # 21 working days in November, 10 of them in 1..14 November: 210 x 10/21 = 100. No week series.
    assert exported(sunday) == {
        ("syncd_checkpoint_target", "fortnight", "2026-11-01..2026-11-14"): 100.0,
        ("syncd_checkpoint_value", "fortnight", "2026-11-01..2026-11-14"): 4.0,
    }
    [goal] = evaluate(config, data, sunday)
    assert [c.level for c in goal.checkpoints] == ["fortnight"]
    assert goal.checkpoint == goal.checkpoints[0]  # the finest level the curve asks something of
    # Monday: the first working week asks 5/21 of 210 = 50, and is exported as it will be judged.
    assert exported(datetime(2026, 11, 2, 12, 0, tzinfo=UTC)) == {
        ("syncd_checkpoint_target", "fortnight", "2026-11-01..2026-11-14"): 100.0,
        ("syncd_checkpoint_value", "fortnight", "2026-11-01..2026-11-14"): 13.0,
        ("syncd_checkpoint_target", "week", "2026-W45"): 50.0,
        ("syncd_checkpoint_value", "week", "2026-W45"): 9.0,
    }
