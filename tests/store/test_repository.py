"""The repository on SQLite and PostgreSQL: upserts, replacement, state, atomicity, time zones."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text

from connectors.base import DailyCount
from syncd.engine.day_values import DayValues
from syncd.store import (
    SourceState,
    load_daily_counts,
    load_source_states,
    record_failure,
    save_sync,
)
from syncd.store.models import DAILY_COUNTS

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
T1 = datetime(2026, 3, 10, 12, 15, tzinfo=UTC)
D = date(2026, 3, 1)  # day 0 of the tests' calendar


def day(n: int) -> date:
    return D + timedelta(days=n)


def save(
    engine: Engine,
    counts: Sequence[DailyCount],
    *,
    source: str = "lemlist",
    metrics: Sequence[str] = ("emails_sent",),
    replace: tuple[int, int] = (0, 4),
    cursor_end: datetime = T0,
    state: Mapping[str, str] | None = None,
    finished_at: datetime = T0,
) -> int:
    return save_sync(
        engine,
        source=source,
        metrics=metrics,
        counts=counts,
        replace_from=day(replace[0]),
        replace_to=day(replace[1]),
        cursor_end=cursor_end,
        connector_state=state or {},
        finished_at=finished_at,
    )


def all_rows(engine: Engine) -> list[tuple[str, str, str, date, float, datetime]]:
    columns = DAILY_COUNTS.c
    statement = select(
        columns.source, columns.metric, columns.subject, columns.day, columns.value, columns.updated_at
    ).order_by(columns.source, columns.metric, columns.subject, columns.day)
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    return [(r.source, r.metric, r.subject, r.day, r.value, r.updated_at) for r in rows]


def values(engine: Engine) -> dict[tuple[str, str, str, date], float]:
    return {(s, m, subj, d): v for s, m, subj, d, v, _ in all_rows(engine)}


FIVE_DAYS = [
    DailyCount("emails_sent", "alice@acme.io", day(0), 3.0),
    DailyCount("emails_sent", "alice@acme.io", day(1), 5.0),
    DailyCount("emails_sent", "alice@acme.io", day(2), 0.5),
    DailyCount("emails_sent", "bob@acme.io", day(3), 7.0),
    DailyCount("emails_sent", "bob@acme.io", day(4), 11.0),
]


def test_saving_the_same_counts_twice_changes_nothing(engine: Engine) -> None:
    assert save(engine, FIVE_DAYS, finished_at=T0) == 5
    first = all_rows(engine)

    assert save(engine, FIVE_DAYS, finished_at=T1) == 0

    assert all_rows(engine) == first
    assert len(first) == 5
    # Unchanged rows keep the time they were last really written.
    assert {row[5] for row in first} == {T0}


def test_a_corrected_day_is_updated_and_counted_once(engine: Engine) -> None:
    save(engine, FIVE_DAYS, finished_at=T0)
    corrected = [*FIVE_DAYS[:4], DailyCount("emails_sent", "bob@acme.io", day(4), 12.0)]

    assert save(engine, corrected, finished_at=T1) == 1

    rows = {(r[2], r[3]): (r[4], r[5]) for r in all_rows(engine)}
    assert rows[("bob@acme.io", day(4))] == (12.0, T1)
    assert rows[("bob@acme.io", day(3))] == (7.0, T0)
    assert len(rows) == 5


def test_a_day_dropped_inside_the_replace_range_is_deleted_outside_it_kept(engine: Engine) -> None:
    save(engine, FIVE_DAYS, replace=(0, 4))
    # Re-read days 2..4 only: the vendor now has nothing for bob on day 3, and day 0 is
    # simply not part of this sync (outside the range), so it must stay.
    reread = [FIVE_DAYS[2], FIVE_DAYS[4]]

    changed = save(engine, reread, replace=(2, 4), finished_at=T1)

    assert changed == 1
    assert values(engine) == {
        ("lemlist", "emails_sent", "alice@acme.io", day(0)): 3.0,
        ("lemlist", "emails_sent", "alice@acme.io", day(1)): 5.0,
        ("lemlist", "emails_sent", "alice@acme.io", day(2)): 0.5,
        ("lemlist", "emails_sent", "bob@acme.io", day(4)): 11.0,
    }


def test_replace_range_boundaries_are_inclusive(engine: Engine) -> None:
    save(engine, FIVE_DAYS, replace=(0, 4))

    # Empty counts over [1, 3]: days 1, 2 and 3 go, days 0 and 4 (just outside) stay.
    assert save(engine, [], replace=(1, 3), finished_at=T1) == 3

    assert sorted(key[3] for key in values(engine)) == [day(0), day(4)]


def test_counts_of_other_sources_and_metrics_are_untouched(engine: Engine) -> None:
    other_source = [DailyCount("emails_sent", "alice@acme.io", day(1), 40.0)]
    other_metric = [DailyCount("replies", "alice@acme.io", day(1), 2.0)]
    save(engine, other_source, source="lemlist_eu")
    save(engine, other_metric, metrics=("replies",))
    save(engine, FIVE_DAYS)

    # This sync of emails_sent has nothing at all: only emails_sent rows of lemlist may go.
    assert save(engine, [], replace=(0, 4), finished_at=T1) == 5

    assert values(engine) == {
        ("lemlist_eu", "emails_sent", "alice@acme.io", day(1)): 40.0,
        ("lemlist", "replies", "alice@acme.io", day(1)): 2.0,
    }


def test_counts_outside_the_replace_range_are_upserted_but_nothing_there_is_deleted(engine: Engine) -> None:
    save(engine, FIVE_DAYS, replace=(0, 4))
    # Only days 3..4 are complete in this sync; it still carries an early count for day 0 and a
    # late one for day 9. Days 1 and 2, outside the range and absent here, must stay.
    counts = [
        DailyCount("emails_sent", "alice@acme.io", day(0), 6.0),
        *FIVE_DAYS[3:],
        DailyCount("emails_sent", "alice@acme.io", day(9), 1.0),
    ]

    assert save(engine, counts, replace=(3, 4), finished_at=T1) == 2

    assert values(engine) == {
        ("lemlist", "emails_sent", "alice@acme.io", day(0)): 6.0,
        ("lemlist", "emails_sent", "alice@acme.io", day(1)): 5.0,
        ("lemlist", "emails_sent", "alice@acme.io", day(2)): 0.5,
        ("lemlist", "emails_sent", "bob@acme.io", day(3)): 7.0,
        ("lemlist", "emails_sent", "bob@acme.io", day(4)): 11.0,
        ("lemlist", "emails_sent", "alice@acme.io", day(9)): 1.0,
    }


def test_save_writes_source_state(engine: Engine) -> None:
    record_failure(engine, source="lemlist", error="HTTP 503", at=T0)

    save(engine, FIVE_DAYS, cursor_end=T0, state={"page": "7", "since": "2026-03-01"}, finished_at=T1)

    assert load_source_states(engine) == {
        "lemlist": SourceState(
            source="lemlist",
            cursor_end=T0,
            connector_state={"page": "7", "since": "2026-03-01"},
            last_success_at=T1,
            last_attempt_at=T1,
            last_error=None,
            consecutive_failures=0,
        )
    }


class InjectedFailure(Exception):
    """Raised by the test in the middle of a save."""


@pytest.mark.parametrize(
    "failing_statement",
    ["INSERT INTO daily_counts", "DELETE FROM daily_counts", "INSERT INTO source_state"],
)
def test_a_save_that_fails_midway_leaves_counts_and_state_as_they_were(engine: Engine, failing_statement: str) -> None:
    save(engine, FIVE_DAYS, cursor_end=T0, state={"page": "1"}, finished_at=T0)
    rows_before = all_rows(engine)
    states_before = load_source_states(engine)

    def fail(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith(failing_statement):
            raise InjectedFailure(statement)

    event.listen(engine, "before_cursor_execute", fail)
    # Day 0 corrected (an upsert), day 4 dropped (a delete), a new day 5 (an insert), new cursor.
    changes = [
        DailyCount("emails_sent", "alice@acme.io", day(0), 30.0),
        *FIVE_DAYS[1:4],
        DailyCount("emails_sent", "bob@acme.io", day(5), 1.0),
    ]
    with pytest.raises(InjectedFailure):
        save(engine, changes, replace=(0, 5), cursor_end=T1, state={"page": "2"}, finished_at=T1)
    event.remove(engine, "before_cursor_execute", fail)

    assert all_rows(engine) == rows_before
    assert load_source_states(engine) == states_before


def test_record_failure_keeps_cursor_and_counts(engine: Engine) -> None:
    save(engine, FIVE_DAYS, cursor_end=T0, state={"page": "3"}, finished_at=T0)
    rows_before = all_rows(engine)
    t2 = T1 + timedelta(minutes=15)

    record_failure(engine, source="lemlist", error="HTTP 503 from lemlist", at=T1)
    record_failure(engine, source="lemlist", error="timed out", at=t2)

    assert load_source_states(engine)["lemlist"] == SourceState(
        source="lemlist",
        cursor_end=T0,
        connector_state={"page": "3"},
        last_success_at=T0,
        last_attempt_at=t2,
        last_error="timed out",
        consecutive_failures=2,
    )
    assert all_rows(engine) == rows_before


def test_record_failure_of_a_source_never_synced(engine: Engine) -> None:
    record_failure(engine, source="x", error="401 Unauthorized", at=T0)

    assert load_source_states(engine) == {
        "x": SourceState(
            source="x",
            cursor_end=None,
            connector_state={},
            last_success_at=None,
            last_attempt_at=T0,
            last_error="401 Unauthorized",
            consecutive_failures=1,
        )
    }


def test_aware_datetimes_come_back_as_the_same_instant_in_utc(engine: Engine) -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    new_york_winter = timezone(timedelta(hours=-5))
    cursor_end = datetime(2026, 3, 11, 0, 0, tzinfo=india)  # 2026-03-10 18:30 UTC
    finished_at = datetime(2026, 3, 10, 14, 45, 30, 123456, tzinfo=new_york_winter)  # 19:45:30.123456 UTC

    save(engine, FIVE_DAYS[:1], cursor_end=cursor_end, finished_at=finished_at)
    state = load_source_states(engine)["lemlist"]

    assert state.cursor_end == datetime(2026, 3, 10, 18, 30, tzinfo=UTC)
    assert state.last_success_at == datetime(2026, 3, 10, 19, 45, 30, 123456, tzinfo=UTC)
    for instant in (state.cursor_end, state.last_success_at, state.last_attempt_at, all_rows(engine)[0][5]):
        assert instant is not None
        assert instant.tzinfo is UTC
    assert all_rows(engine)[0][5] == datetime(2026, 3, 10, 19, 45, 30, 123456, tzinfo=UTC)


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="naive"):
        save(engine, FIVE_DAYS, cursor_end=datetime(2026, 3, 10, 12, 0))  # noqa: DTZ001
    with pytest.raises(ValueError, match="naive"):
        record_failure(engine, source="lemlist", error="e", at=datetime(2026, 3, 10, 12, 0))  # noqa: DTZ001
    assert all_rows(engine) == []
    assert load_source_states(engine) == {}


def test_two_counts_for_one_key_are_refused(engine: Engine) -> None:
    twice = [FIVE_DAYS[0], DailyCount("emails_sent", "alice@acme.io", day(0), 4.0)]
    with pytest.raises(ValueError, match="two counts"):
        save(engine, twice)
    assert all_rows(engine) == []


def test_a_count_for_an_undeclared_metric_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="replies"):
        save(engine, [DailyCount("replies", "alice@acme.io", day(0), 1.0)], metrics=("emails_sent",))
    assert all_rows(engine) == []


def test_load_daily_counts_for_several_keys_includes_boundary_days(engine: Engine) -> None:
    save(engine, FIVE_DAYS)
    save(
        engine,
        [
            DailyCount("posts", "1453000001", day(1), 2.0),
            DailyCount("posts", "1453000001", day(3), 4.0),
            DailyCount("posts", "1453000003", day(2), 1.0),
            DailyCount("likes", "1453000001", day(2), 99.0),
        ],
        source="x",
        metrics=("posts", "likes"),
    )

    loaded = load_daily_counts(
        engine,
        keys=[("lemlist", "emails_sent"), ("x", "posts"), ("kit", "subscribers")],
        first_day=day(1),
        last_day=day(3),
    )

    assert loaded == {
        ("lemlist", "emails_sent"): {
            "alice@acme.io": {day(1): 5.0, day(2): 0.5},
            "bob@acme.io": {day(3): 7.0},
        },
        ("x", "posts"): {
            "1453000001": {day(1): 2.0, day(3): 4.0},
            "1453000003": {day(2): 1.0},
        },
        ("kit", "subscribers"): {},
    }


def test_load_daily_counts_runs_one_query(engine: Engine) -> None:
    save(engine, FIVE_DAYS)
    selects: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    keys = [("lemlist", "emails_sent"), ("lemlist", "replies"), ("x", "posts"), ("kit", "subscribers")]
    loaded = load_daily_counts(engine, keys=keys, first_day=day(0), last_day=day(0))
    event.remove(engine, "before_cursor_execute", record)

    assert loaded[("lemlist", "emails_sent")] == {"alice@acme.io": {day(0): 3.0}}
    assert len(selects) == 1


def test_load_daily_counts_with_no_keys_or_an_empty_range(engine: Engine) -> None:
    save(engine, FIVE_DAYS)
    assert load_daily_counts(engine, keys=[], first_day=day(0), last_day=day(4)) == {}
    key = ("lemlist", "emails_sent")
    assert load_daily_counts(engine, keys=[key], first_day=day(3), last_day=day(2)) == {key: {}}


def test_a_large_batch_is_written_in_a_few_statements(engine: Engine) -> None:
    counts = [DailyCount("emails_sent", f"user{n}@acme.io", day(d), float(n * d)) for n in range(100) for d in range(5)]
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    assert save(engine, counts) == 500
    assert save(engine, counts[:250], finished_at=T1) == 250  # 250 rows deleted
    event.remove(engine, "before_cursor_execute", record)

    assert len(values(engine)) == 250
    # Per save: BEGIN on SQLite, one SELECT, the batched upsert, the batched delete, the state upsert,
    # the change feed's one insert (and PostgreSQL's advisory lock). A round trip per row would be hundreds.
    assert len(statements) <= 16


def test_an_older_window_never_moves_the_cursor_or_connector_state_back(engine: Engine) -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    common: dict[str, Any] = {"source": "s", "metrics": ["m"], "counts": [], "finished_at": now}
    save_sync(
        engine,
        **common,
        replace_from=date(2026, 11, 20),
        replace_to=date(2026, 11, 23),
        cursor_end=now,
        connector_state={"page": "new"},
    )
    save_sync(
        engine,
        **common,
        replace_from=date(2026, 10, 1),
        replace_to=date(2026, 10, 7),
        cursor_end=datetime(2026, 10, 8, tzinfo=UTC),
        connector_state={"page": "old"},
    )
    state = load_source_states(engine)["s"]
    assert (state.cursor_end, dict(state.connector_state)) == (now, {"page": "new"})
    later = now + timedelta(hours=1)
    save_sync(
        engine,
        **common,
        replace_from=date(2026, 11, 20),
        replace_to=date(2026, 11, 23),
        cursor_end=later,
        connector_state={"page": "newer"},
    )
    state = load_source_states(engine)["s"]
    assert (state.cursor_end, dict(state.connector_state)) == (later, {"page": "newer"})


def test_source_states_can_be_read_for_some_sources_only(engine: Engine) -> None:
    for source in ("lemlist", "kit", "slack"):
        save(engine, FIVE_DAYS[:1], source=source, state={"page": source})
    only = load_source_states(engine, ("kit", "never-synced"))
    assert list(only) == ["kit"]
    assert only["kit"].connector_state == {"page": "kit"}
    assert set(load_source_states(engine)) == {"lemlist", "kit", "slack"}


def test_load_daily_counts_reads_more_rows_than_a_batch_into_arrays_of_days(engine: Engine) -> None:
    # Read in batches (a server-side cursor on PostgreSQL) into one array of doubles per subject.
    from syncd.store import repository

    subjects = [f"p{i}@acme.io" for i in range(repository._READ_BATCH // 10 + 7)]
    counts = [
        DailyCount("emails_sent", s, day(d), float((i + d) % 4) + 0.5)
        for i, s in enumerate(subjects)
        for d in range(11)
    ]
    counts += [DailyCount("replies", "p0@acme.io", day(2), 0.0), DailyCount("replies", "p1@acme.io", day(2), -0.0)]
    counts += [DailyCount("replies", "p2@acme.io", day(3), 0.0)]
    save(engine, counts, metrics=("emails_sent", "replies"), replace=(0, 10))
    assert len(counts) > repository._READ_BATCH
    keys = [("lemlist", "emails_sent"), ("lemlist", "replies")]
    loaded = load_daily_counts(engine, keys=keys, first_day=day(0), last_day=day(10))
    emails = loaded[("lemlist", "emails_sent")]
    assert sum(len(days) for days in emails.values()) == len(counts) - 3
    assert emails["p3@acme.io"][day(5)] == float((3 + 5) % 4) + 0.5
    assert sum(sum(days.values()) for days in emails.values()) == sum(c.value for c in counts)
    assert len({id(d) for days in emails.values() for d in days}) == 11  # one date object per day
    # Eight bytes a day, with no mask while every day of the span has a count.
    assert all(isinstance(days, DayValues) and days._present is None for days in emails.values())
    assert {len(days._values) * days._values.itemsize for days in emails.values()} == {11 * 8}
    replies = loaded[("lemlist", "replies")]
    assert replies == {"p0@acme.io": {day(2): 0.0}, "p1@acme.io": {day(2): 0.0}, "p2@acme.io": {day(3): 0.0}}
    # A -0.0 the backend kept stays -0.0 (equal to 0.0, but another value's bits).
    assert math.copysign(1.0, replies["p1@acme.io"][day(2)]) == (-1.0 if _keeps_negative_zero(engine) else 1.0)


def _keeps_negative_zero(engine: Engine) -> bool:
    with engine.connect() as connection:
        stored = connection.execute(
            text("SELECT value FROM daily_counts WHERE subject = 'p1@acme.io' AND metric = 'replies'")
        ).scalar_one()
    return math.copysign(1.0, stored) < 0
