"""Source leases in PostgreSQL: which replica may sync (and write) each source, and until when.

A row per source holds the replica that owns it, until when, and a fencing token that grows
by one on every change of holder. Claims use `SELECT ... FOR UPDATE SKIP LOCKED` inside one
short transaction, never a session advisory lock, so leases work through PgBouncer in
transaction mode and survive pool recycling. A writer re-checks its token inside its own
writing transaction (`check_fence`), holding the row lock until commit, so a replica whose
lease expired or was taken over cannot write even if it is still running.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, Column, Connection, Engine, String, Table, delete, select, update

from syncd.errors import LeaseLost
from syncd.store.database import storage_errors
from syncd.store.dialect import insert_for
from syncd.store.models import METADATA, UTCDateTime

__all__ = [
    "REPLICAS",
    "SOURCE_LEASES",
    "Fence",
    "LeaseClaim",
    "check_fence",
    "claim_leases",
    "release_leases",
]


# Which replica may sync one source until `expires_at`, and the fencing token of that tenure.
SOURCE_LEASES = Table(
    "source_leases",
    METADATA,
    Column("source", String(200), primary_key=True),
    # Empty while nobody has ever held it.
    Column("holder", String(200), nullable=False),
    Column("token", BigInteger, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

# A live replica's heartbeat: the sources are shared evenly among replicas seen lately.
REPLICAS = Table(
    "replicas",
    METADATA,
    Column("holder", String(200), primary_key=True),
    Column("seen_at", UTCDateTime, nullable=False),
)


@dataclass(frozen=True)
class Fence:
    """The proof a writer presents: this holder, with this token, for this source."""

    source: str
    holder: str
    token: int


@dataclass(frozen=True)
class LeaseClaim:
    """The outcome of one claim round: the leases held now and until when."""

    held: dict[str, int]  # source -> fencing token
    expires_at: datetime
    live_replicas: int


def claim_leases(
    engine: Engine,
    *,
    holder: str,
    sources: Sequence[str],
    now: datetime,
    ttl: timedelta,
    busy: frozenset[str] = frozenset(),
) -> LeaseClaim:
    """Renew this replica's leases and take free or expired ones, up to a fair share; one transaction.

    The fair share is ceil(sources / live replicas), live meaning a heartbeat within `ttl`. A
    replica over its share gives back the excess it is not syncing right now (`busy`), so a
    replica that joins later gets work within one lease time. PostgreSQL only: on SQLite one
    process holds everything and no lease is stored.
    """
    if now.tzinfo is None:
        raise ValueError("naive datetime: syncd stores aware datetimes only")
    expires_at = now + ttl
    wanted = sorted(set(sources))
    with storage_errors(engine, "claim source leases"), engine.begin() as connection:
        _heartbeat(connection, holder, now, ttl)
        live = connection.execute(select(REPLICAS.c.holder).where(REPLICAS.c.seen_at > now - ttl)).scalars().all()
        live_count = max(1, len(live))
        share = math.ceil(len(wanted) / live_count) if wanted else 0
        if wanted:
            connection.execute(
                insert_for("postgresql", SOURCE_LEASES)
                .values([{"source": s, "holder": "", "token": 0, "expires_at": now} for s in wanted])
                .on_conflict_do_nothing(index_elements=[SOURCE_LEASES.c.source])
            )
        # Renew what this replica holds. An UPDATE may wait a moment for this replica's own writer
        # (check_fence locks the row until its commit); no other replica ever locks an unexpired row.
        renewed = connection.execute(
            update(SOURCE_LEASES)
            .where(
                SOURCE_LEASES.c.source.in_(wanted), SOURCE_LEASES.c.holder == holder, SOURCE_LEASES.c.expires_at > now
            )
            .values(expires_at=expires_at)
            .returning(SOURCE_LEASES.c.source, SOURCE_LEASES.c.token)
        ).all()
        # Keep what is busy first, then the rest, up to the share; give back the excess.
        ordered = sorted(renewed, key=lambda row: (row.source not in busy, row.source))
        held = {row.source: row.token for i, row in enumerate(ordered) if i < share or row.source in busy}
        excess = [row.source for row in ordered if row.source not in held]
        if excess:
            # Expired now, token kept: the next holder's takeover bumps it, fencing this replica out.
            connection.execute(
                update(SOURCE_LEASES)
                .where(SOURCE_LEASES.c.source.in_(excess), SOURCE_LEASES.c.holder == holder)
                .values(expires_at=now)
            )
        if len(held) < share:
            # Free or expired rows only; one another replica is claiming right now is skipped, not waited for.
            free = connection.execute(
                select(SOURCE_LEASES.c.source, SOURCE_LEASES.c.token)
                .where(SOURCE_LEASES.c.source.in_(wanted), SOURCE_LEASES.c.expires_at <= now)
                .order_by(SOURCE_LEASES.c.source)
                .limit(share - len(held))
                .with_for_update(skip_locked=True)
            ).all()
            for row in free:
                token = row.token + 1
                connection.execute(
                    update(SOURCE_LEASES)
                    .where(SOURCE_LEASES.c.source == row.source)
                    .values(holder=holder, token=token, expires_at=expires_at)
                )
                held[row.source] = token
    return LeaseClaim(held=held, expires_at=expires_at, live_replicas=live_count)


def release_leases(engine: Engine, *, holder: str, now: datetime) -> None:
    """Give back every lease of `holder` and its heartbeat (a clean shutdown): others take over at once."""
    with storage_errors(engine, "release source leases"), engine.begin() as connection:
        connection.execute(update(SOURCE_LEASES).where(SOURCE_LEASES.c.holder == holder).values(expires_at=now))
        connection.execute(delete(REPLICAS).where(REPLICAS.c.holder == holder))


def check_fence(connection: Connection, fence: Fence, now: datetime) -> None:
    """Inside a writing transaction: lock the lease row and raise LeaseLost unless `fence` still holds it.

    The row lock (FOR UPDATE) lasts until the caller commits, so no takeover can slip between
    this check and the write; a claimer skips the locked row and takes it on its next round.
    """
    row = connection.execute(
        select(SOURCE_LEASES.c.holder, SOURCE_LEASES.c.token, SOURCE_LEASES.c.expires_at)
        .where(SOURCE_LEASES.c.source == fence.source)
        .with_for_update()
    ).first()
    if row is None or row.holder != fence.holder or row.token != fence.token:
        raise LeaseLost(f"{fence.source}: another replica took the lease over (token {fence.token})")
    if row.expires_at <= now:
        raise LeaseLost(f"{fence.source}: the lease expired at {row.expires_at.isoformat()}")


def _heartbeat(connection: Connection, holder: str, now: datetime, ttl: timedelta) -> None:
    insert = insert_for("postgresql", REPLICAS).values(holder=holder, seen_at=now)
    connection.execute(
        insert.on_conflict_do_update(index_elements=[REPLICAS.c.holder], set_={"seen_at": insert.excluded.seen_at})
    )
    # Forget replicas gone for long, so the table stays as small as the fleet.
    connection.execute(delete(REPLICAS).where(REPLICAS.c.seen_at < now - 10 * ttl))
