"""Bound how long SIGTERM takes: the daemon gets a grace period, then its task is cancelled.

A database call stuck on a silent connection ignores the stop event; cancelling the task that
awaits it lets the process exit (the stuck thread is a daemon thread, never joined), and the
server rolls back the transaction when the connection closes with the process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

__all__ = ["STOP_GRACE_SECONDS", "run_until_stopped"]

log = logging.getLogger(__name__)

# Kubernetes waits 30 s before SIGKILL; we promise exit within 10 s, cleanup included.
STOP_GRACE_SECONDS = 4.0


async def run_until_stopped(
    main: Coroutine[Any, Any, None], stop: asyncio.Event, *, grace: float = STOP_GRACE_SECONDS
) -> None:
    """Run `main` until it returns; once `stop` is set, give it `grace` seconds, then cancel it."""
    task = asyncio.create_task(main, name="daemon")
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if not task.done():
        done, _ = await asyncio.wait({task}, timeout=grace)
        if not done:
            log.warning("shutdown took longer than %.0f s (a database call is stuck): cancelling it", grace)
            task.cancel()
            await asyncio.wait({task}, timeout=grace)
    if task.done() and not task.cancelled():
        error = task.exception()
        if error is not None:
            raise error
