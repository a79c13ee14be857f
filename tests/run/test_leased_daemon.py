"""Two daemons on one PostgreSQL schema, in process: one syncs, the other serves the same figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from syncd.engine.evaluate import counts_needed
from syncd.run.daemon import Daemon
from syncd.sandbox.activity import ExplicitActivity, make_lemlist_activity
from syncd.sandbox.server import Sandbox
from tests.fakes import FakeClock, make_config

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CONFIG = """
people:
  alice: {{identities: {{lemlist: alice@acme.io}}}}
sources:
  lemlist: {{connector: lemlist, api_key: "{key}", base_url: "{url}", interval: 1m}}
kpis:
  emails: {{source: lemlist, metric: emails_sent, per_person: true}}
goals:
  - {{kpi: emails, owner: alice, period: month, target: 40}}
"""


async def test_the_holder_syncs_and_fences_and_the_other_replica_reads_its_counts(pg_engine: Engine) -> None:
    clock = FakeClock(NOW)
    # Four emails sent on four days of the month.
    emails = [make_lemlist_activity("emailsSent", NOW - timedelta(days=d), "alice@acme.io", n=d) for d in range(1, 5)]
    sandbox = Sandbox(clock=clock, activity=ExplicitActivity(lemlist=emails))
    await sandbox.start()
    try:
        config = make_config(CONFIG.format(key=sandbox.lemlist_api_key, url=sandbox.lemlist_url))
        holder, other = Daemon(config, pg_engine, clock=clock), Daemon(config, pg_engine, clock=clock)
        await holder.leases.claim_once()
        await other.leases.claim_once()
        assert holder.leases.held() == {"lemlist"}
        assert other.leases.held() == frozenset()
        await other.start()  # its place in the change feed: what the holder stores from now on reaches it

        # The other replica's write is refused (it holds no lease): nothing stored, no failure counted.
        refused = await other.sync_once(config.sources["lemlist"])
        assert (refused.ok, refused.reason) == (False, "lease_lost")
        assert other.stats["lemlist"].syncs_total == 0

        stored = await holder.sync_once(config.sources["lemlist"])
        assert stored.ok
        await other.evaluate()
        assert [g.value for g in other.holder.current.goals] == [0]
        # The evaluation tick re-reads the counts of sources held elsewhere (change feed), and their health.
        await other.tick()
        assert [g.value for g in other.holder.current.goals] == [4]
        assert [g.value for g in holder.holder.current.goals] == [4]
        assert other.stats["lemlist"].up is True
        assert other.stats["lemlist"].last_success == holder.stats["lemlist"].last_success
        # Nothing stored since: the next tick re-reads nothing; a re-sync that changed no count neither.
        needed = counts_needed(config, clock.now())
        assert other.change_watch.poll(needed) == ()
        clock.advance(60)
        await holder.leases.claim_once()
        assert (await holder.sync_once(config.sources["lemlist"])).ok
        assert other.change_watch.poll(needed) == ()

        # The holder stops renewing; after the lease time the other takes over with a new token.
        last_stored = holder.stats["lemlist"].last_success
        clock.advance(config.lease_seconds + 1)
        await other.leases.claim_once()
        assert other.leases.held() == {"lemlist"}
        assert (await holder.sync_once(config.sources["lemlist"])).reason == "lease_lost"
        # The interval follows the stored last attempt, not the takeover.
        assert other.leases.last_attempt("lemlist") == last_stored
    finally:
        await holder.connectors.aclose()
        await other.connectors.aclose()
        await sandbox.stop()
