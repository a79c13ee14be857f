"""Wait for the database at start-up instead of exiting: PostgreSQL often starts after syncd.

Exiting 1 at once would put a container into CrashLoopBackOff; instead the daemon serves /healthz
(with /readyz false) and retries the schema upgrade with a capped backoff until it works.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy import Engine

from syncd.clock import Clock
from syncd.errors import StorageError
from syncd.store import upgrade
from syncd.store.executor import run_db

__all__ = ["FIRST_RETRY_SECONDS", "MAX_RETRY_SECONDS", "wait_for_storage"]

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 1.0
# Kubernetes' own backoff tops out at 5 minutes; we retry far sooner so we catch up quickly.
MAX_RETRY_SECONDS = 30.0


async def wait_for_storage(
    engine: Engine,
    stop: asyncio.Event,
    clock: Clock,
    *,
    prepare: Callable[[Engine], None] = upgrade,
) -> bool:
    """Run `prepare` (the schema upgrade) until it succeeds; return False if `stop` came first."""
    delay = FIRST_RETRY_SECONDS
    attempt = 0
    while not stop.is_set():
        attempt += 1
        try:
            await run_db(prepare, engine)
        except StorageError as exc:
            log.warning("database not ready (attempt %d), retrying in %.0f s: %s", attempt, delay, exc)
        else:
            if attempt > 1:
                log.info("database reachable after %d attempts", attempt)
            return True
        sleeper = asyncio.ensure_future(clock.sleep(delay))
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        sleeper.cancel()
        stopper.cancel()
        delay = min(delay * 2, MAX_RETRY_SECONDS)
    return False
