"""Check-ins of many goals judged in one pass: each goal with its own stored versions (hand-computed)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from syncd.run.checkin_record import judge_all
from syncd.store.goal_history import goal_definition, goal_key, goal_version_at, goals_as_of, versions_by_goal
from syncd.store.goal_repository import GoalVersion
from tests.fakes import make_config

PEOPLE = 4
CONFIG = (
    "people:\n"
    + "".join(f"  p{i}: {{identities: {{lemlist: p{i}@acme.io}}}}\n" for i in range(PEOPLE))
    + "sources:\n  lemlist: {connector: lemlist, api_key: x}\n"
    + "kpis:\n  emails: {source: lemlist, metric: emails_sent, per_person: true}\n"
    + "goals:\n"
    + "".join(
        f"  - {{kpi: emails, owner: p{i}, period: month, target: {100 * (i + 1)}, checkins: week}}\n"
        for i in range(PEOPLE)
    )
)
AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # Monday noon: weeks of 2, 9 and 16 November are finished
RAISED = datetime(2026, 11, 10, 0, 0, tzinfo=UTC)  # each goal's target doubled from this instant on


def _versions(config):
    """Goal p{i}: target 100(i+1) until RAISED, then twice that; p3 has no stored history."""
    out = []
    for goal in config.goals[:-1]:
        before = goal_definition(goal)
        after = before.replace(f'"target": {goal.target}', f'"target": {goal.target * 2}')
        assert after != before
        out.append(GoalVersion(goal_key(goal), AT - timedelta(days=60), RAISED, goal.target, before))
        out.append(GoalVersion(goal_key(goal), RAISED, None, goal.target * 2, after))
    return out[::-1]  # stored order must not matter


def test_each_goal_is_judged_with_its_own_version_of_the_time():
    config = make_config(CONFIG)
    days = {date(2026, 11, 1) + timedelta(days=n): 5.0 for n in range(23)}
    counts = {("lemlist", "emails_sent"): {f"p{i}@acme.io": days for i in range(PEOPLE)}}
    coverage = {}  # nothing known of the source: every finished check-in is still judged on its counts
    results = judge_all(config, counts, AT, _versions(config), coverage)
    targets = {(r.goal_key, r.checkpoint): r.target for r in results}
    # Week targets are the month target over November's 30 days (linear): 7/30 of it. The week of
    # 2 November closed before RAISED, so it keeps the old target; the weeks after take the doubled one.
    for i in range(PEOPLE):
        key = f"emails|p{i}|month"
        old = 100.0 * (i + 1)
        new = old if i == PEOPLE - 1 else 2 * old  # the last goal has no stored history: its file target
        assert abs(targets[key, "2026-W45"] - old * 7 / 30) < 1e-9
        assert abs(targets[key, "2026-W46"] - new * 7 / 30) < 1e-9
        assert abs(targets[key, "2026-W47"] - new * 7 / 30) < 1e-9
    assert targets["emails|p0|month", "2026-W46"] == 46.6666666666667


def test_one_goals_version_at_equals_the_whole_configuration_as_of():
    config = make_config(CONFIG)
    by_key = versions_by_goal(_versions(config))
    for at in (AT - timedelta(days=90), RAISED - timedelta(seconds=1), RAISED, AT):
        whole = goals_as_of(config, _versions(config), at)
        mine = tuple(goal_version_at(goal, by_key.get(goal_key(goal), []), at) for goal in config.goals)
        assert mine == whole
        assert [g.target for g in mine][:2] == ([100, 200] if at < RAISED else [200, 400])


MIXED = """
teams: {growth: {}}
people:
  ann: {team: growth, identities: {lemlist: Ann@Acme.io, instantly: ann}}
  bo: {team: growth, identities: {lemlist: [bo@acme.io, bo2@acme.io]}}
  cy: {identities: {lemlist: cy@acme.io}}
sources:
  lemlist: {connector: lemlist, api_key: x}
  instantly: {connector: instantly, api_key: y}
kpis:
  emails: {source: lemlist, metric: emails_sent, per_person: true}
  all_emails: {source: lemlist, metric: emails_sent}
  reach: {source: [lemlist, instantly], metric: emails_sent, per_person: true}
goals:
  - {kpi: emails, owner: ann, period: month, target: 50, checkins: week}
  - {kpi: emails, owner: bo, period: month, target: 50, checkins: [week, fortnight]}
  - {kpi: emails, owner: growth, period: month, target: 90, checkins: week}
  - {kpi: all_emails, owner: cy, period: month, target: 90, checkins: week}
  - {kpi: reach, owner: ann, period: month, target: 90, checkins: week}
"""


def test_judging_each_goal_on_its_owners_counts_gives_what_the_whole_counts_give():
    from syncd.engine.checkins import judge_checkins

    config = make_config(MIXED)
    days = [date(2026, 10, 1) + timedelta(days=n) for n in range(54)]
    # Subjects spelt unlike the configuration (case), a stranger, and decimals whose sums depend on order.
    subjects = ["zed@acme.io", "bo2@acme.io", "ann@acme.io", "cy@acme.io", "BO@acme.io"]
    emails = {s: {d: 0.1 * (k + 1) + (d.day % 3) / 7 for d in days} for k, s in enumerate(subjects)}
    counts = {("lemlist", "emails_sent"): emails, ("instantly", "emails_sent"): {"ann": {d: 1.0 for d in days}}}
    judged = judge_all(config, counts, AT, [], {})
    whole = [
        result
        for goal in config.goals
        for result in judge_checkins(config, goal, counts, AT, version_at=lambda _, g=goal: g, coverage={})
    ]
    assert judged == whole
    values = {(r.goal_key, r.checkpoint): r.value for r in judged}
    # The team's week of 16 November: ann's and both of bo's addresses (not zed's, not cy's), 7 days.
    week = [date(2026, 11, 16) + timedelta(days=n) for n in range(7)]
    expected = sum(emails[s][d] for d in week for s in ("bo2@acme.io", "ann@acme.io", "BO@acme.io"))
    assert abs(values["emails|growth|month", "2026-W47"] - expected) < 1e-9
    assert values["emails|growth|month", "2026-W47"] > values["emails|bo|month", "2026-W47"] > 0


def test_a_goal_never_renegotiated_is_judged_as_configured_without_parsing_its_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import syncd.store.goal_history as history_module

    config = make_config(CONFIG)
    days = {date(2026, 11, 1) + timedelta(days=n): 5.0 + n % 3 for n in range(23)}
    counts = {("lemlist", "emails_sent"): {f"p{i}@acme.io": days for i in range(PEOPLE)}}
    # p0 renegotiated (two versions); the others stored once, as configured.
    versions = [v for v in _versions(config) if v.goal_key == "emails|p0|month"] + [
        GoalVersion(goal_key(goal), AT - timedelta(days=60), None, goal.target, goal_definition(goal))
        for goal in config.goals[1:]
    ]
    parsed: list[str] = []
    real = history_module._goal_from_definition.__wrapped__

    def counting(text: str) -> object:
        parsed.append(text)
        return real(text)

    expected = judge_all(config, counts, AT, versions, {})
    monkeypatch.setattr(history_module, "_goal_from_definition", counting)
    judged = judge_all(config, counts, AT, versions, {})

    assert judged == expected
    week = {r.checkpoint: r.target for r in judged if r.goal_key == "emails|p1|month"}
    assert abs(week["2026-W47"] - 200 * 7 / 30) < 1e-9  # the configured target, as stored
    assert parsed
    assert all('"owner": "p0"' in text for text in parsed)  # only the renegotiated goal's


def test_a_judging_memo_rejudges_only_the_goals_whose_inputs_moved(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta as _days

    import syncd.run.checkin_record as record_module
    from bench import _workload as w
    from syncd.run.checkin_record import JudgingMemo, judge_all

    config, counts = w.config(30), w.counts(30, days=120)
    coverage: dict[str, object] = {}
    memo = JudgingMemo()
    first = judge_all(config, counts, w.NOW, [], coverage, memo)  # type: ignore[arg-type]
    assert len(first) > 30
    judged: list[str] = []
    real = record_module.judge_checkins

    def counting(config: object, goal: object, *args: object, **kwargs: object) -> object:
        judged.append(goal.owner)  # type: ignore[attr-defined]
        return real(config, goal, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(record_module, "judge_checkins", counting)
    assert judge_all(config, counts, w.NOW, [], dict(coverage), memo) == first  # type: ignore[arg-type]
    assert judged == []  # nothing moved: every goal kept its results

    key = ("lemlist", "emails_sent")
    moved = {**counts, key: dict(counts[key])}
    moved[key]["p7@acme.io"] = {day: value + 1 for day, value in counts[key]["p7@acme.io"].items()}
    again = judge_all(config, moved, w.NOW, [], coverage, memo)  # type: ignore[arg-type]
    assert set(judged) == {"p7"}  # p7's emails goal only
    monkeypatch.undo()
    assert again == judge_all(config, moved, w.NOW, [], coverage)  # type: ignore[arg-type]
    assert again != first

    monkeypatch.setattr(record_module, "judge_checkins", counting)
    judged.clear()
    judge_all(config, moved, w.NOW + _days(days=1), [], coverage, memo)  # type: ignore[arg-type]
    assert len(set(judged)) == 30  # a new day: everyone's judged again


def test_a_rejudged_goal_with_the_same_results_keeps_the_same_objects() -> None:
    # The daemon publishes the results it stored; a re-judging that moved nothing must not hold a second copy.
    from bench import _workload as w
    from syncd.run.checkin_record import JudgingMemo

    config, counts = w.config(3), w.counts(3, days=120)
    memo = JudgingMemo()
    first = judge_all(config, counts, w.NOW, [], {}, memo)
    key = ("lemlist", "emails_sent")
    copied = {**counts, key: {subject: dict(days) for subject, days in counts[key].items()}}  # equal, new objects
    again = judge_all(config, copied, w.NOW, [], {}, memo)
    assert again == first
    assert all(a is b for a, b in zip(again, first, strict=True))


def test_a_rejudged_goal_keeps_the_objects_of_the_results_that_did_not_move() -> None:
    from bench import _workload as w
    from syncd.run.checkin_record import JudgingMemo

    config, counts = w.config(3), w.counts(3, days=120)
    memo = JudgingMemo()
    first = judge_all(config, counts, w.NOW, [], {}, memo)
    key = ("lemlist", "emails_sent")
    # p1's counts of the last week only: its earlier check-ins are judged the same.
    last_week = w.NOW.date() - timedelta(days=7)
    moved_days = {day: value + (5.0 if day >= last_week else 0.0) for day, value in counts[key]["p1@acme.io"].items()}
    moved = {**counts, key: {**counts[key], "p1@acme.io": moved_days}}

    again = judge_all(config, moved, w.NOW, [], {}, memo)

    assert again == judge_all(config, moved, w.NOW, [], {})
    pairs = [(a, b) for a, b in zip(first, again, strict=True) if a.goal_key == "emails|p1|month"]
    unmoved = [b for a, b in pairs if a == b]
    assert len(unmoved) >= 2  # the test needs check-ins both sides of the change
    assert len(unmoved) < len(pairs)
    assert all(a is b for a, b in pairs if a == b)  # the same objects, not equal copies


def test_changed_results_are_new_or_moved_and_never_a_final_one() -> None:
    from dataclasses import replace

    from syncd.engine.checkin_results import CheckinResult
    from syncd.run.checkin_record import changed_results

    week = CheckinResult(
        goal_key="emails|p0|month", kpi="emails", owner="p0", level="week", checkpoint="2026-W47",
        period="2026-11", first_day=date(2026, 11, 16), last_day=date(2026, 11, 22), target=70.0,
        value=40.0, unknown_days=0, outcome="missed", final=False,
    )  # fmt: skip
    month = replace(week, level="month", checkpoint="2026-W47", value=1.0)  # same id, another level
    final = replace(week, checkpoint="2026-W46", final=True, outcome="hit")
    stored = [week, month, final]
    moved = replace(week, value=41.0)
    new = replace(week, checkpoint="2026-W48")
    judged = [moved, month, replace(final, value=0.0, final=False), new]
    assert changed_results(judged, stored) == [moved, new]


def test_a_judging_memo_does_not_keep_replaced_counts_alive() -> None:
    # The memo outlives several pushes (judging runs every few minutes): holding the day maps it
    # judged from kept a second copy of every pushed subject's days until the next judging.
    import gc
    import weakref

    from bench import _workload as w
    from syncd.engine.day_values import DayValues
    from syncd.run.checkin_record import JudgingMemo
    from syncd.run.daemon import SubjectCounts

    config = w.config(3)
    counts = {
        key: SubjectCounts({subject: DayValues.of(days) for subject, days in by_subject.items()})
        for key, by_subject in w.counts(3, days=120).items()
    }
    memo = JudgingMemo()
    first = judge_all(config, counts, w.NOW, [], {}, memo)
    key = ("lemlist", "emails_sent")
    old = weakref.ref(counts[key]["p1@acme.io"])
    counts[key] = SubjectCounts(counts[key])
    counts[key]["p1@acme.io"] = DayValues.of({day: value + 1 for day, value in counts[key]["p1@acme.io"].items()})
    gc.collect()
    assert old() is None  # only the memo could have held it
    again = judge_all(config, counts, w.NOW, [], {}, memo)
    assert again != first  # p1's goal was judged again on its new counts
    assert again == judge_all(config, counts, w.NOW, [], {})
    assert judge_all(config, counts, w.NOW, [], {}, memo) == again
