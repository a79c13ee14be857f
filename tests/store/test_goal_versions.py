"""Goal versions written in bulk: a first start with many goals is one INSERT, not one per goal."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, event

from syncd.store.goal_repository import load_goal_versions, record_goal_versions

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(days=1)


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Collect the SQL the engine sends (an executemany is one)."""
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement.split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def definitions(goals: int, target: float = 10.0) -> dict[str, tuple[float, str]]:
    return {f"k|p{i}|month": (target, f'{{"target": {target}, "owner": "p{i}"}}') for i in range(goals)}


def test_many_new_goals_are_one_insert_and_many_changes_one_update(engine: Engine) -> None:
    with statements(engine) as first:
        assert record_goal_versions(engine, definitions(500), T0) == 500
    assert first.count("INSERT") == 1
    assert first.count("UPDATE") == 0

    # Every target renegotiated, and one goal removed: 499 closed and reopened, one closed.
    changed = definitions(500, target=12.0)
    del changed["k|p7|month"]
    with statements(engine) as second:
        assert record_goal_versions(engine, changed, T1) == 500 + 499
    assert second.count("INSERT") == 1
    assert second.count("UPDATE") == 1

    versions = load_goal_versions(engine)
    assert len(versions) == 999
    assert {(v.target, v.effective_to) for v in versions if v.goal_key == "k|p3|month"} == {(10.0, T1), (12.0, None)}
    assert [(v.target, v.effective_to) for v in versions if v.goal_key == "k|p7|month"] == [(10.0, T1)]
    assert record_goal_versions(engine, changed, T1 + timedelta(hours=1)) == 0


def test_a_shard_closes_only_the_goals_it_owns(engine: Engine) -> None:
    record_goal_versions(engine, definitions(4), T0)
    # This shard owns p0 and p1 only: the others' open versions are another shard's to close.
    assert record_goal_versions(engine, {}, T1, owns=lambda key: key in {"k|p0|month", "k|p1|month"}) == 2
    still_open = {v.goal_key for v in load_goal_versions(engine) if v.effective_to is None}
    assert still_open == {"k|p2|month", "k|p3|month"}


def test_versions_are_read_again_only_when_the_table_changed(engine: Engine) -> None:
    from syncd.store.goal_repository import reload_goal_versions
    from syncd.store.retention import prune_goal_versions

    record_goal_versions(engine, definitions(3), T0)
    first = reload_goal_versions(engine)
    assert [(v.goal_key, v.target, v.effective_to) for v in first.versions] == [
        ("k|p0|month", 10.0, None),
        ("k|p1|month", 10.0, None),
        ("k|p2|month", 10.0, None),
    ]
    with statements(engine) as seen:
        assert reload_goal_versions(engine, first) is first  # nothing changed: held as it is
    assert [s for s in seen if s != "BEGIN"] == ["SELECT"]  # the mark only, not the rows

    # A goal renegotiated: one version closed, one opened.
    record_goal_versions(engine, {**definitions(3), "k|p1|month": (15.0, '{"target": 15.0}')}, T1)
    second = reload_goal_versions(engine, first)
    assert [(v.goal_key, v.target, v.effective_to) for v in second.versions] == [
        ("k|p0|month", 10.0, None),
        ("k|p1|month", 10.0, T1),
        ("k|p1|month", 15.0, None),
        ("k|p2|month", 10.0, None),
    ]
    assert reload_goal_versions(engine, second) is second

    # A goal removed from the file: its version closed, none opened; the count of rows stays.
    later = T1 + timedelta(hours=1)
    record_goal_versions(engine, {**definitions(2), "k|p1|month": (15.0, '{"target": 15.0}')}, later)
    third = reload_goal_versions(engine, second)
    assert [(v.goal_key, v.effective_to) for v in third.versions if v.goal_key == "k|p2|month"] == [
        ("k|p2|month", later)
    ]

    # Retention deletes the replaced version: the rows went, so do they from what is held.
    prune_goal_versions(engine, older_than=later + timedelta(days=1), keep_from={})
    fourth = reload_goal_versions(engine, third)
    assert [(v.goal_key, v.target) for v in fourth.versions] == [
        ("k|p0|month", 10.0),
        ("k|p1|month", 15.0),
    ]
