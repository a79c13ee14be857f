"""Check-ins of many goals judged in one pass: each goal with its own stored versions (hand-computed)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

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
