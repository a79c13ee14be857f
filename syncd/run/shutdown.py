"""Bound how long SIGTERM takes: the daemon gets a grace period, then its task is cancelled.

A database call stuck on a silent connection ignores the stop event; cancelling the task that
awaits it lets the process exit (the stuck thread is a daemon thread, never joined), and the
server rolls back the transaction when the connection closes with the process.

The same holds for asyncio's default executor (evaluation, rendering /metrics, judging check-ins):
its stock ThreadPoolExecutor is joined at exit, both by `asyncio.run` and by the interpreter, so a
render of 10,000 goals in progress held the process past SIGTERM for as long as it took. Here it
is replaced by daemon threads that are never joined; their work is recomputed at the next start.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from syncd.store.executor import DatabaseExecutor

__all__ = ["STOP_GRACE_SECONDS", "UnjoinedThreadPool", "run_until_stopped"]

R = TypeVar("R")

log = logging.getLogger(__name__)

# Kubernetes waits 30 s before SIGKILL; we promise exit within 10 s, cleanup included.
STOP_GRACE_SECONDS = 4.0
# As many workers as ThreadPoolExecutor's default: evaluation, renders and scrapes run here.
DEFAULT_EXECUTOR_WORKERS = min(32, (os.cpu_count() or 1) + 4)


class UnjoinedThreadPool(ThreadPoolExecutor):
    """asyncio's default executor on daemon threads that exit never waits for.

    asyncio accepts only a ThreadPoolExecutor as default executor, and that class joins its
    threads at exit; this one starts none of its own and hands the work to a DatabaseExecutor.
    """

    def __init__(self, workers: int = DEFAULT_EXECUTOR_WORKERS) -> None:
        super().__init__(max_workers=1)
        # Stall replacement off (a long render is busy, not stuck); the hard cap still bounds threads.
        self._pool = DatabaseExecutor(workers, stall_after=float("inf"), thread_name="syncd-worker")

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        """Queue `fn(*args, **kwargs)` on a daemon thread."""
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking work without waiting: a render in progress must not hold SIGTERM."""
        self._pool.shutdown(wait=False, cancel_futures=cancel_futures)
        super().shutdown(wait=False, cancel_futures=cancel_futures)


async def run_until_stopped(
    main: Coroutine[Any, Any, None], stop: asyncio.Event, *, grace: float = STOP_GRACE_SECONDS
) -> None:
    """Run `main` until it returns; once `stop` is set, give it `grace` seconds, then cancel it."""
    asyncio.get_running_loop().set_default_executor(UnjoinedThreadPool())
    task = asyncio.create_task(main, name="daemon")
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if not task.done():
        done, _ = await asyncio.wait({task}, timeout=grace)
        if not done:
            log.warning("shutdown took longer than %.0f s (a database call or a render is stuck): cancelling it", grace)
            task.cancel()
            await asyncio.wait({task}, timeout=grace)
    if task.done() and not task.cancelled():
        error = task.exception()
        if error is not None:
            raise error
