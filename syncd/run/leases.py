"""Share the sources among replicas: claim and renew leases, and sync only the sources held.

On PostgreSQL every `syncd run` is a replica: a `LeaseKeeper` claims a fair share of the pull
sources every third of the lease time (syncd.store.leases), and each source's loop syncs only
while its replica holds the lease. The next sync follows the stored last attempt, not the
moment a lease changed hands, so a takeover never resets the interval and the vendor sees one
caller per source at the configured rate. On SQLite there is one process: it holds every
lease, stores none, and schedules as it always did.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import Engine

from syncd.clock import Clock
from syncd.errors import StorageError
from syncd.model import Config, Source
from syncd.run.source_stats import SourceStats
from syncd.store import SourceState, load_source_states
from syncd.store.executor import run_db, run_db_bounded
from syncd.store.leases import Fence, claim_leases, release_leases

__all__ = ["LeaseKeeper", "adopt_stored_states", "foreign_sources", "replica_id"]

log = logging.getLogger(__name__)

# A lease call stuck on a silent database is given up after this long (leases then expire locally).
LEASE_CALL_BOUND_S = 10.0
# At shutdown the release must leave SIGTERM its 10 s: a silent database gets only this long.
LEASE_RELEASE_BOUND_S = 2.0


def replica_id() -> str:
    """Return a name for this process that no other replica shares, readable in the lease table."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class LeaseKeeper:
    """Which sources this replica may sync now, with their fencing tokens.

    `shared` is False on SQLite: every source is held, no fence is checked, nothing is stored.
    """

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        sources: tuple[str, ...],
        lease_seconds: float,
        holder: str | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.shared = engine.dialect.name == "postgresql"
        self.holder = holder or replica_id()
        self.sources = sources
        self.ttl = timedelta(seconds=lease_seconds)
        # Renew three times per lease: one lost round trip never costs the lease.
        self.renew_every = lease_seconds / 3
        self.busy: set[str] = set()
        self._held: dict[str, int] = {}
        self._expires_at: datetime | None = None
        self._last_attempt: dict[str, datetime | None] = {}
        self._gained: set[str] = set()

    def holds(self, source: str) -> bool:
        """Return whether this replica may sync `source` now."""
        if not self.shared:
            return True
        return source in self._held and self._expires_at is not None and self.clock.now() < self._expires_at

    def held(self) -> frozenset[str]:
        """Return the sources held now (every source when not shared)."""
        return frozenset(s for s in self.sources if self.holds(s))

    def fence(self, source: str) -> Fence | None:
        """Return the fence a write for `source` must pass; None on SQLite."""
        if not self.shared:
            return None
        # Not held: token -1 never matches, so a stray write is refused rather than let through.
        return Fence(source, self.holder, self._held.get(source, -1) if self.holds(source) else -1)

    def last_attempt(self, source: str) -> datetime | None:
        """Return when `source` was last attempted by any replica, as known at the takeover or since."""
        return self._last_attempt.get(source)

    def note_attempt(self, source: str, at: datetime) -> None:
        """Remember this replica's own attempt: while it holds the lease nobody else writes one."""
        self._last_attempt[source] = at

    def take_gained(self) -> frozenset[str]:
        """Return the sources gained since the last call: their counts were stored by another replica."""
        gained, self._gained = frozenset(self._gained), set()
        return gained

    async def claim_once(self) -> None:
        """Run one claim round; on a database error keep the leases until they expire locally."""
        if not self.shared:
            return
        now = self.clock.now()
        try:
            claim = await run_db_bounded(
                LEASE_CALL_BOUND_S,
                True,
                claim_leases,
                self.engine,
                holder=self.holder,
                sources=self.sources,
                now=now,
                ttl=self.ttl,
                busy=frozenset(self.busy),
            )
        except StorageError as exc:
            log.warning("could not renew source leases: %s", exc)
            if self._expires_at is not None and self.clock.now() >= self._expires_at:
                self._held = {}
            return
        gained = {s for s, token in claim.held.items() if self._held.get(s) != token}
        lost = set(self._held) - set(claim.held)
        if gained:
            # The previous holder's last attempt sets this replica's first sync of each gained source.
            try:
                states = await run_db(load_source_states, self.engine)
            except StorageError as exc:
                log.warning("took over %d sources but cannot read their state yet: %s", len(gained), exc)
                return
            self._gained |= gained
            for source in gained:
                state = states.get(source)
                self._last_attempt[source] = state.last_attempt_at if state is not None else None
            log.info("now syncing %s (of %d live replicas)", ", ".join(sorted(gained)), claim.live_replicas)
        if lost:
            log.info("no longer syncing %s", ", ".join(sorted(lost)))
        self._held = dict(claim.held)
        self._expires_at = claim.expires_at

    async def run(self, stop: asyncio.Event, wait: Callable[[asyncio.Event, float], Awaitable[bool]]) -> None:
        """Claim and renew until `stop`; then give the leases back so others take over at once."""
        if not self.shared:
            return
        try:
            while True:
                await self.claim_once()
                if await wait(stop, self.renew_every):
                    break
        finally:
            self._held = {}
            try:
                await run_db_bounded(
                    LEASE_RELEASE_BOUND_S, True, release_leases, self.engine, holder=self.holder, now=self.clock.now()
                )
            except StorageError as exc:
                log.warning("could not release source leases (they expire by themselves): %s", exc)

    async def source_loop(
        self,
        source: Source,
        stop: asyncio.Event,
        *,
        sync: Callable[[Source], Awaitable[object]],
        wait: Callable[[asyncio.Event, float], Awaitable[bool]],
        rng: random.Random,
    ) -> None:
        """Sync `source` at its interval after the last attempt, whichever replica made it, while held."""
        interval = source.interval_seconds
        # A source never attempted starts soon, but not all at once.
        first_due = self.clock.now() + timedelta(seconds=rng.uniform(0, min(2.0, interval * 0.05)))
        while not stop.is_set():
            if not self.holds(source.name):
                if await wait(stop, self.renew_every):
                    return
                continue
            last = self.last_attempt(source.name)
            now = self.clock.now()
            due = first_due if last is None else last + timedelta(seconds=interval)
            remaining = (due - now).total_seconds()
            if remaining > 0:
                # Wake at least once per renewal to notice a lost lease.
                if await wait(stop, min(remaining, self.renew_every)):
                    return
                continue
            self.busy.add(source.name)
            try:
                await sync(source)
            except Exception:  # the loop must outlive any one sync
                log.exception("unexpected error syncing %s", source.name)
            finally:
                self.busy.discard(source.name)
                self.note_attempt(source.name, self.clock.now())


def adopt_stored_states(
    stats: Mapping[str, SourceStats], states: Mapping[str, SourceState], sources: frozenset[str]
) -> None:
    """Show, for sources another replica syncs, the health that replica stored, so every replica agrees."""
    for name in sources:
        stat, state = stats.get(name), states.get(name)
        if stat is None or state is None or state.last_attempt_at is None:
            continue
        stat.last_success = state.last_success_at
        stat.last_error = state.last_error
        stat.up = state.consecutive_failures == 0 and state.last_success_at is not None


def foreign_sources(config: Config, held: frozenset[str]) -> frozenset[str]:
    """Return the configured sources this replica does not sync: their counts come from the others."""
    return frozenset(config.sources) - held
