"""Follow the change feed, so counts written by other processes reach the daemon within one tick.

`syncd record`, `syncd backfill`, another replica or any process writing to the same database
notes what it changed in `syncd.store.changes`; each evaluation tick the daemon asks for what
is new since its last look and re-reads only those (source, metric) keys, over the days they touched.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine

from syncd.engine.evaluate import CountKey, CountsRange
from syncd.store.changes import DaySpan, changes_since, current_token

__all__ = ["ChangeWatch"]


class ChangeWatch:
    """The daemon's position in the change feed; synchronous, called through asyncio.to_thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.token: int | None = None
        # The earliest local day the last poll's changes touched; None when it cannot say (a gap).
        self.earliest_day: date | None = None
        # The days the last poll's changes touched per key (empty after a gap: re-read them whole).
        self.spans: dict[CountKey, DaySpan] = {}

    def start(self) -> None:
        """Remember where the feed stands; call before the first full read of the counts."""
        self.token = current_token(self.engine)

    def poll(self, needed: CountsRange) -> tuple[CountKey, ...]:
        """Return the needed keys whose counts changed, within the needed days, since the last poll."""
        if self.token is None:
            # Not started: the next full read sees everything, so only remember the position.
            self.start()
            return ()
        changes = changes_since(self.engine, self.token)
        self.token = changes.token
        if not changes.complete:
            self.earliest_day, self.spans = None, {}
            return needed.keys
        changed = tuple(
            key
            for key in needed.keys
            if (span := changes.keys.get(key)) is not None
            and span[1] >= needed.first_day
            and span[0] <= needed.last_day
        )
        self.spans = {key: changes.keys[key] for key in changed}
        self.earliest_day = min((span[0] for span in self.spans.values()), default=date.max)
        return changed
