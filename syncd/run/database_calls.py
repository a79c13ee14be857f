"""A batch job's database calls: each bounded, and none tried once the database has stopped answering."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from syncd.errors import StorageTimeout
from syncd.store.executor import run_db, run_db_write

__all__ = ["DatabaseCalls"]

P = ParamSpec("P")
R = TypeVar("R")


class DatabaseCalls:
    """Run a job's database calls on the executor, each within its bound, saying what each was doing.

    Once one call has not answered in time, the database is silent (a partition, a hung server):
    each later call fails at once instead of holding its caller (a backfill's concurrency slot) for
    another whole bound. A refused call (connection refused, locked, disk full) does not count.
    """

    def __init__(self) -> None:
        self.silent: StorageTimeout | None = None

    async def read(self, action: str, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run `fn` as `run_db` does; `action` ("read backfill progress") names it in a failure."""
        self._check()
        try:
            return await run_db(fn, *args, **kwargs)
        except StorageTimeout as exc:
            raise self._went_silent(action, exc) from exc

    async def write(self, action: str, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run `fn` as `run_db_write` does (its outcome feeds /readyz); `action` names it in a failure."""
        self._check()
        try:
            return await run_db_write(fn, *args, **kwargs)
        except StorageTimeout as exc:
            raise self._went_silent(action, exc) from exc

    def note_silent(self, action: str, error: str) -> None:
        """Say a call made elsewhere (a chunk's store inside a sync) was not answered in time."""
        self._went_silent(action, StorageTimeout(error))

    def _check(self) -> None:
        if self.silent is not None:
            raise StorageTimeout(f"not tried: the database stopped answering ({self.silent})")

    def _went_silent(self, action: str, exc: StorageTimeout) -> StorageTimeout:
        self.silent = StorageTimeout(f"cannot {action}: {exc}")
        return self.silent
