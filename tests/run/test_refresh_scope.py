"""A refresh after a push works out again only the goals whose owner's counts the push changed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from syncd.config import parse_config
from syncd.run.daemon import Daemon
from syncd.store import create_engine_for, upgrade
from syncd.store.push_repository import PushedCount, apply_pushed_counts
from tests.test_push import FixedClock

TOKEN = "calls-token-0123456789abcdef"
NOW = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)
PEOPLE = ("alice", "bob", "carol")
CONFIG = (
    "teams: {recruiting: {}}\npeople:\n"
    + "".join(f"  {p}: {{team: recruiting, identities: {{calls: {p}}}}}\n" for p in PEOPLE)
    + f'sources:\n  calls: {{connector: push, token: "{TOKEN}"}}\n'
    + "kpis:\n  calls_held: {source: calls, metric: calls_held, per_person: true}\n"
    + "  team_calls: {source: calls, metric: calls_held}\n"
    + "goals:\n"
    + "".join(f"  - {{kpi: calls_held, owner: {p}, period: month, target: 40, checkins: week}}\n" for p in PEOPLE)
    + "  - {kpi: team_calls, owner: recruiting, period: quarter, target: 300}\n"
)


async def test_a_push_for_one_person_keeps_the_other_goals_figures(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 's.db'}")
    upgrade(engine)
    days = [date(2026, 3, 2) + timedelta(days=n) for n in range(16)]
    counts = [PushedCount("calls_held", p, d, 2.0) for p in PEOPLE for d in days]
    apply_pushed_counts(engine, source="calls", counts=counts, at=NOW)
    clock = FixedClock(NOW)
    daemon = Daemon(parse_config(CONFIG, file="syncd.yaml"), engine, clock=clock)
    await daemon.evaluate()
    before = {(g.kpi, g.owner): g for g in daemon.holder.current.goals}
    assert before[("calls_held", "bob")].value == 32.0

    clock.instant = NOW + timedelta(minutes=5)
    outcome = apply_pushed_counts(
        engine,
        source="calls",
        counts=[
            PushedCount("calls_held", "bob", date(2026, 3, 17), 7.0),  # changed
            PushedCount("calls_held", "carol", date(2026, 3, 17), 2.0),  # re-sent as stored
        ],
        at=clock.instant,
    )
    daemon.request_refresh(outcome.refreshed, outcome.spans)
    await daemon.refresher.settle()
    after = {(g.kpi, g.owner): g for g in daemon.holder.current.goals}

    assert after[("calls_held", "bob")].value == 32.0 - 2.0 + 7.0
    assert after[("team_calls", "recruiting")].value == 96.0 - 2.0 + 7.0  # sums every subject: bob's too
    assert after[("calls_held", "bob")].checkpoint is not None
    assert after[("calls_held", "bob")].checkpoint.value == 2.0 * 1 + 7.0  # week of 16 March, through the 17th
    # Alice's counts were not pushed, carol's came back unchanged: their figures are kept as they were.
    assert after[("calls_held", "alice")] is before[("calls_held", "alice")]
    assert after[("calls_held", "carol")] is before[("calls_held", "carol")]

    # The next tick moves everyone's time, so the kept figures do not stay behind.
    clock.instant = NOW + timedelta(days=1)
    await daemon.tick()
    ticked = {(g.kpi, g.owner): g for g in daemon.holder.current.goals}
    assert ticked[("calls_held", "alice")].figures != before[("calls_held", "alice")].figures
    assert ticked[("calls_held", "alice")].value == 32.0
    engine.dispose()


async def test_a_tick_rereads_only_the_days_the_change_feed_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `syncd record` (another process) stores one day: the tick re-reads that day, not the whole key,
    # and the figures follow; the pushes this daemon refreshed itself are not re-read whole again.
    import syncd.run.daemon as daemon_module

    engine = create_engine_for(f"sqlite:///{tmp_path / 's.db'}")
    upgrade(engine)
    days = [date(2026, 3, 2) + timedelta(days=n) for n in range(16)]
    apply_pushed_counts(
        engine, source="calls", counts=[PushedCount("calls_held", p, d, 2.0) for p in PEOPLE for d in days], at=NOW
    )
    daemon = Daemon(parse_config(CONFIG, file="syncd.yaml"), engine, clock=FixedClock(NOW))
    await daemon.start()
    reads: list[tuple[date, date]] = []
    real = daemon_module.load_daily_counts

    def counted(engine: object, *, keys: object, first_day: date, last_day: date) -> object:
        reads.append((first_day, last_day))
        return real(engine, keys=keys, first_day=first_day, last_day=last_day)  # type: ignore[arg-type]

    monkeypatch.setattr(daemon_module, "load_daily_counts", counted)
    apply_pushed_counts(engine, source="calls", counts=[PushedCount("calls_held", "alice", days[3], 9.0)], at=NOW)
    await daemon.tick()
    assert reads == [(days[3], days[3])]
    alice = next(g for g in daemon.holder.current.goals if g.owner == "alice")
    assert alice.value == 32.0 - 2.0 + 9.0
    engine.dispose()
