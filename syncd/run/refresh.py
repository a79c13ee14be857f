"""Re-evaluate after pushes and syncs in the background, coalescing requests that arrive meanwhile.

A push answers once its counts are stored; the figures follow within one evaluation. Keys asked
for while an evaluation runs are gathered and served by one more evaluation, so a burst of pushes
(or 1,000 sources finishing their syncs together) costs two evaluations, not one each. A sync
waits for the evaluation that takes its keys, so its figures are out when it returns.

Back-to-back evaluations are spaced by `pause` seconds, or by twice the last evaluation's length
when that is longer (at most `max_pause`): at 10,000 goals an evaluation is most of a second of
Python holding the GIL, and a stream of pushes kept one running without end, halving the rate the
push handlers answered at. Spaced so, refreshes take at most a third of the time while pushes
stream in. The pause gathers the pushes arriving meanwhile into the next evaluation, and ends half
a second after the last of them, so the last push of a burst shows within an evaluation or two.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

from syncd.engine.evaluate import CountKey
from syncd.errors import StorageError

__all__ = ["Refresher"]

log = logging.getLogger(__name__)

_SPACING = 2.0  # a pause after an evaluation of at least this many times its length
_QUIET_STEP = 0.5  # ... cut short after this long without a request


class Refresher:
    """Run `evaluate(keys)` in a background task for every key requested, batching the requests."""

    def __init__(
        self,
        evaluate: Callable[[tuple[CountKey, ...]], Awaitable[object]],
        *,
        pause: float = 0.0,
        max_pause: float = 0.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._evaluate = evaluate
        self._pause = pause
        self._max_pause = max(pause, max_pause)
        self._sleep = sleep
        self._monotonic = monotonic
        self._last_took = 0.0  # seconds the last evaluation took
        self._pending: set[CountKey] = set()
        self._wanted = False  # an empty request still refreshes the sources' health
        self._arrived = False  # a request came in during the current step of a pause
        self._task: asyncio.Task[None] | None = None
        # Done when the evaluation that takes the pending keys has run, whatever its outcome.
        self._batch: asyncio.Future[None] | None = None

    def request(self, keys: Iterable[CountKey]) -> asyncio.Future[None]:
        """Ask for the figures fed by `keys` to be recomputed soon; returns at once.

        The answer is done once an evaluation including `keys` has run: await it to see the figures.
        """
        self._pending.update(keys)
        self._wanted = True
        self._arrived = True
        if self._batch is None:
            self._batch = asyncio.get_running_loop().create_future()
        batch = self._batch
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="refresh")
        return batch

    async def _run(self) -> None:
        first = True
        while self._wanted:
            if not first and self._max_pause > 0:
                # Requests arriving meanwhile join this evaluation.
                await self._paused(min(self._max_pause, max(self._pause, _SPACING * self._last_took)))
            first = False
            keys = tuple(sorted(self._pending))
            self._pending.clear()
            self._wanted = False
            batch, self._batch = self._batch, None
            started = self._monotonic()
            try:
                await self._evaluate(keys)
            except StorageError as exc:
                # Stored all the same; the next timed evaluation picks the counts up.
                log.warning("could not refresh counts for %s: %s", ", ".join(f"{s}/{m}" for s, m in keys), exc)
            except Exception:  # the task must not die silently and leave later pushes unseen
                log.exception("unexpected error refreshing counts")
            finally:
                self._last_took = self._monotonic() - started
                if batch is not None and not batch.done():
                    batch.set_result(None)

    async def _paused(self, limit: float) -> None:
        """Sleep up to `limit` seconds in steps, ending after a step in which nothing was requested.

        A stream of pushes keeps the pause to its length; once the stream stops, the last push's
        figures follow within a step rather than a whole pause.
        """
        waited = 0.0
        while waited < limit:
            step = min(_QUIET_STEP, limit - waited)
            self._arrived = False
            await self._sleep(step)
            waited += step
            if not self._arrived:
                return

    async def settle(self) -> None:
        """Wait until every requested refresh has been evaluated."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def aclose(self) -> None:
        """Stop a refresh in flight (on shutdown)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._batch is not None:
            self._batch.cancel()  # a sync waiting on it is being cancelled too
