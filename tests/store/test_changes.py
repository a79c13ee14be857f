"""The change feed on SQLite and PostgreSQL: every count write notes what it changed, in order."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine

from connectors.base import DailyCount
from syncd.store import changes, save_sync
from syncd.store.changes import changes_since, current_token
from syncd.store.push_repository import PushedCount, apply_pushed_counts

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
D1, D2, D3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)


def sync(engine: Engine, counts: list[DailyCount], source: str = "lemlist") -> int:
    return save_sync(
        engine,
        source=source,
        metrics=("emails_sent", "emails_replied"),
        counts=counts,
        replace_from=D1,
        replace_to=D3,
        cursor_end=T0,
        connector_state={},
        finished_at=T0,
    )


def test_a_sync_notes_the_keys_and_days_it_changed_and_nothing_when_nothing_moved(engine: Engine) -> None:
    start = current_token(engine)
    assert start == 0
    sync(engine, [DailyCount("emails_sent", "a", D2, 3.0), DailyCount("emails_replied", "a", D3, 1.0)])
    first = changes_since(engine, start)
    assert first.complete
    assert dict(first.keys) == {("lemlist", "emails_sent"): (D2, D2), ("lemlist", "emails_replied"): (D3, D3)}
    assert first.token == current_token(engine) > start

    # The same counts again: no change, no row.
    sync(engine, [DailyCount("emails_sent", "a", D2, 3.0), DailyCount("emails_replied", "a", D3, 1.0)])
    assert changes_since(engine, first.token) == changes.Changes(token=first.token, keys={})

    # A new value on D1 and the D3 reply gone (deleted as stale): both days are noted.
    sync(engine, [DailyCount("emails_sent", "a", D1, 5.0), DailyCount("emails_sent", "a", D2, 3.0)])
    second = changes_since(engine, first.token)
    assert dict(second.keys) == {("lemlist", "emails_sent"): (D1, D1), ("lemlist", "emails_replied"): (D3, D3)}


def test_pushed_counts_are_noted_with_their_span(engine: Engine) -> None:
    counts = [PushedCount("calls", "alice", D3, 2.0), PushedCount("calls", "bob", D1, 1.0)]
    apply_pushed_counts(engine, source="desk", counts=counts, at=T0)
    assert dict(changes_since(engine, 0).keys) == {("desk", "calls"): (D1, D3)}


def test_a_reader_behind_the_pruned_rows_is_told_to_re_read_everything(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changes, "KEEP_ROWS", 2)
    for value in (1.0, 2.0, 3.0, 4.0):
        sync(engine, [DailyCount("emails_sent", "a", D2, value)])
    newest = current_token(engine)
    assert newest == 4
    behind = changes_since(engine, 1)
    assert not behind.complete
    assert behind.token == 4
    recent = changes_since(engine, 2)
    assert recent.complete
    assert dict(recent.keys) == {("lemlist", "emails_sent"): (D2, D2)}
