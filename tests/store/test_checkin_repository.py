"""Check-in results: a final result is never rewritten; coverage is what the store knows of each source."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from alembic import command
from sqlalchemy import Engine, text

from connectors.base import DailyCount
from syncd.engine.checkin_results import CheckinResult
from syncd.store import save_sync, upgrade
from syncd.store.checkin_repository import (
    StoredCoverage,
    load_checkin_results,
    load_stored_coverage,
    save_checkin_results,
)
from syncd.store.database import alembic_config

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
W47 = CheckinResult(
    goal_key="emails|alice|month",
    kpi="emails",
    owner="alice",
    level="week",
    checkpoint="2026-W47",
    period="2026-11",
    first_day=date(2026, 11, 16),
    last_day=date(2026, 11, 22),
    target=70.0,
    value=40.0,
    unknown_days=2,
    outcome="incomplete",
    final=False,
)


def test_results_are_rewritten_until_final_then_frozen(engine: Engine) -> None:
    save_checkin_results(engine, [W47], T0)
    complete = replace(W47, value=75.0, unknown_days=0, outcome="hit", final=True)
    save_checkin_results(engine, [complete], T0 + timedelta(hours=1))
    assert load_checkin_results(engine) == [complete]
    # A later judgement (a target edited afterwards, a late correction) does not touch a final result.
    save_checkin_results(
        engine, [replace(complete, target=140.0, outcome="missed", final=False)], T0 + timedelta(days=1)
    )
    assert load_checkin_results(engine) == [complete]
    # The same check-in id at another level is another result.
    month = replace(W47, level="month", checkpoint="2026-W47", value=1.0)
    save_checkin_results(engine, [month], T0)
    assert sorted((r.level, r.value) for r in load_checkin_results(engine)) == [("month", 1.0), ("week", 75.0)]


def test_more_results_than_a_slice_are_all_stored_and_finals_stay_frozen(engine: Engine) -> None:
    from syncd.store import checkin_repository

    many = [
        replace(W47, goal_key=f"emails|p{n}|month", owner=f"p{n}", value=float(n))
        for n in range(2 * checkin_repository.SAVE_BATCH + 17)
    ]
    many[5] = replace(many[5], final=True, outcome="hit")
    save_checkin_results(engine, many, T0)
    later = [replace(r, value=r.value + 0.5) for r in many]
    save_checkin_results(engine, later, T0 + timedelta(hours=1))
    loaded = {r.owner: r for r in load_checkin_results(engine)}
    assert len(loaded) == len(many)
    assert loaded["p5"].value == 5.0  # final: the later judgement left it alone
    assert loaded["p4"].value == 4.5
    assert loaded[f"p{len(many) - 1}"].value == len(many) - 1 + 0.5


def test_coverage_is_the_first_stored_or_backfilled_day_and_the_cursor(engine: Engine) -> None:
    assert load_stored_coverage(engine) == {}
    save_sync(
        engine,
        source="lemlist",
        metrics=("emails_sent",),
        counts=[DailyCount("emails_sent", "alice@acme.io", date(2026, 11, 5), 3.0)],
        replace_from=date(2026, 11, 4),
        replace_to=date(2026, 11, 23),
        cursor_end=T0,
        connector_state={},
        finished_at=T0,
    )
    assert load_stored_coverage(engine) == {"lemlist": StoredCoverage(date(2026, 11, 5), T0)}
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO backfill_progress (source, since, done_through, updated_at) "
                "VALUES ('lemlist', :since, :through, :at)"
            ),
            {"since": date(2026, 10, 1), "through": date(2026, 10, 7), "at": T0},
        )
    assert load_stored_coverage(engine)["lemlist"].first_day == date(2026, 10, 1)


def test_old_results_are_carried_over_at_their_goal_level(bare_engine: Engine) -> None:
    config = alembic_config()
    with bare_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
    with bare_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO goal_versions (goal_key, effective_from, effective_to, target, definition) "
                "VALUES ('emails|alice|month', :at, NULL, 400, :definition)"
            ),
            {"at": T0, "definition": '{"checkins": "week", "target": 400}'},
        )
        connection.execute(
            text(
                "INSERT INTO checkpoint_results (goal_key, checkpoint, first_day, last_day, target, value, hit, "
                "updated_at) VALUES ('emails|alice|month', '2026-W45', :first, :last, 100, 120, 1, :at)"
            ),
            {"first": date(2026, 11, 2), "last": date(2026, 11, 8), "at": T0},
        )
    upgrade(bare_engine)
    [carried] = load_checkin_results(bare_engine)
    assert (carried.level, carried.checkpoint, carried.value, carried.outcome, carried.final) == (
        "week",
        "2026-W45",
        120.0,
        "hit",
        False,
    )
    assert carried.first_day == date(2026, 11, 2)


def test_stored_results_equal_to_held_ones_are_those_objects(engine: Engine) -> None:
    from syncd.run.checkin_record import store_checkin_results
    from tests.fakes import make_config

    config = make_config(
        "people:\n  alice: {identities: {lemlist: alice@acme.io}}\n"
        "sources:\n  lemlist: {connector: lemlist, api_key: x}\n"
        "kpis:\n  emails: {source: lemlist, metric: emails_sent, per_person: true}\n"
        "goals:\n  - {kpi: emails, owner: alice, period: month, target: 100, checkins: week}\n"
    )
    final = replace(W47, value=75.0, unknown_days=0, outcome="hit", final=True)
    save_checkin_results(engine, [final], T0)
    w48 = replace(W47, checkpoint="2026-W48", first_day=date(2026, 11, 23), last_day=date(2026, 11, 29))
    # Judged again: W47 comes out different (it stays final as stored), W48 is new.
    judged = [replace(final, value=80.0, final=False, outcome="incomplete"), w48]
    stored = store_checkin_results(engine, config, judged, T0 + timedelta(days=1), held=judged)
    assert stored == (final, w48)
    assert stored[1] is w48  # equal: the held object, not a second copy
    assert stored[0] is not judged[0]  # the store's final result, not the judgement it refused
