"""Vendor faults through a loopback fault proxy, per connector family: stored counts never move.

Families: lemlist (offset pages, no total: a short page looks like the end), Kit (cursor pages),
Mailchimp (offset pages with a total). Each case syncs once fault-free, once through the fault,
once fault-free again; every stored count must equal the fault-free run's after each step.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from syncd.model import Config
from syncd.run.source_stats import SourceStats
from syncd.run.sync import ConnectorPool, SyncOutcome, sync_source
from syncd.sandbox.server import Sandbox
from syncd.store import create_engine_for, upgrade
from syncd.store.models import DAILY_COUNTS
from tests.fakes import FakeClock, make_config
from tests.faults.fault_proxy import FAULTS, FaultProxy

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

# vendor -> (API root the fake serves under, the KPI's metric, extra settings)
FAMILIES: dict[str, tuple[str, str, str]] = {
    "lemlist": ("/api", "emails_sent", ""),
    "kit": ("/v4", "new_subscribers", ""),
    "mailchimp": ("/3.0", "new_subscribers", ", list_id: a1b2c3d4e5"),
}

CONFIG = """
timezone: Europe/London
teams: {{growth: {{}}}}
people:
  alice: {{team: growth}}
sources:
  src: {{connector: {vendor}, api_key: "{key}", base_url: "{url}", interval: 15m, lookback: 3d{extra}}}
kpis:
  k: {{source: src, metric: {metric}}}
goals:
  - {{kpi: k, owner: growth, period: month, target: 400}}
"""

# What each fault may do to one sync: fail it (counts untouched) or be held (counts untouched).
FAILS_WITH = {
    "500": "unavailable",
    "429_long": "rate_limited",
    "401": "auth",
    "stall": "timeout",
    "malformed": "bad_response",
    "truncated": {"unavailable", "bad_response"},
}
# Only a cursor family can see its cursor repeat; offset families get the same page again, which
# ends (a short page) or fails (past the page cap) without changing a count.
CURSOR_FAMILIES = {"kit"}


@dataclass
class Rig:
    config: Config
    engine: Engine
    clock: FakeClock
    proxy: FaultProxy
    stats: SourceStats
    pool: ConnectorPool

    async def sync(self, *, deadline: float | None = None) -> SyncOutcome:
        source = self.config.sources["src"]
        return await sync_source(
            self.config, source, self.engine, self.clock, self.stats, pool=self.pool, deadline=deadline
        )

    def stored(self) -> dict[tuple[str, str, date], float]:
        columns = DAILY_COUNTS.c
        with self.engine.connect() as connection:
            rows = connection.execute(select(columns.metric, columns.subject, columns.day, columns.value)).all()
        return {(r.metric, r.subject, r.day): r.value for r in rows}


@pytest.fixture(params=list(FAMILIES))
async def rig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Rig]:
    vendor = request.param
    root, metric, extra = FAMILIES[vendor]
    clock = FakeClock(NOW)
    sandbox = Sandbox(clock=clock, vendors=[vendor] if vendor not in ("lemlist", "kit") else [])
    await sandbox.start()
    proxy = FaultProxy(sandbox.url(vendor).removesuffix(root))
    await proxy.start()
    config = make_config(
        CONFIG.format(vendor=vendor, key=sandbox.api_keys[vendor], url=proxy.url + root, metric=metric, extra=extra)
    )
    engine = create_engine_for(f"sqlite:///{tmp_path / 'faults.db'}")
    upgrade(engine)
    pool = ConnectorPool()
    try:
        yield Rig(config, engine, clock, proxy, SourceStats("src", vendor, 900.0), pool)
    finally:
        await pool.aclose()
        await proxy.stop()
        await sandbox.stop()
        engine.dispose()


def fault_cases() -> list[object]:
    # A stall waits out the sync's deadline (real seconds): one family in the default run.
    return [pytest.param(fault, marks=pytest.mark.faults) if fault == "stall" else fault for fault in FAULTS]


@pytest.mark.parametrize("fault", fault_cases())
async def test_a_fault_never_changes_stored_counts(rig: Rig, fault: str) -> None:
    baseline = await rig.sync()
    assert baseline.ok, baseline.error
    good = rig.stored()
    assert sum(good.values()) > 0  # the fake has activity in the window: a lowered count would show

    rig.proxy.fault = fault
    faulted = await rig.sync(deadline=1.5 if fault == "stall" else None)
    assert rig.stored() == good, f"{fault}: {faulted}"
    expected = FAILS_WITH.get(fault)
    if isinstance(expected, str):
        assert (faulted.ok, faulted.reason) == (False, expected)
    elif isinstance(expected, set):
        assert not faulted.ok
        assert faulted.reason in expected
    elif fault == "looping_cursor" and rig.stats.connector in CURSOR_FAMILIES:
        assert (faulted.ok, faulted.reason) == (False, "bad_response")
    elif fault in ("short_page", "empty_page"):
        if rig.stats.connector == "mailchimp":
            # The vendor announces a total: fewer items than that is an error, not the end.
            assert (faulted.ok, faulted.reason) == (False, "bad_response")
        else:
            assert faulted.ok
            assert rig.stats.suspect_reads_total == 1
    if fault == "429_short":
        # A short Retry-After is waited out (on the injected clock) and retried, still failing here.
        assert not faulted.ok

    rig.proxy.fault = None
    recovered = await rig.sync()
    assert recovered.ok, recovered.error
    assert rig.stored() == good
