"""Per-source counters the daemon keeps in memory and copies into each snapshot."""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from syncd.engine.snapshot import SourceStatus

__all__ = ["DURATION_BUCKETS", "SourceStats"]

# Syncs take from under a second (one page) to many minutes (a backfill under a rate limit).
DURATION_BUCKETS: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


@dataclass
class SourceStats:
    """Mutable counters for one source; also the HTTP observer its connector reports to."""

    name: str
    connector: str
    interval_seconds: float | None
    up: bool | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    syncs_total: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    http_requests: Counter[str] = field(default_factory=Counter)
    rate_limit_remaining: float | None = None
    bucket_counts: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    duration_sum: float = 0.0
    pulled: bool = True
    suspect_reads_total: int = 0

    def on_response(self, code: str) -> None:
        self.http_requests[code] += 1

    def on_rate_limit_remaining(self, remaining: float) -> None:
        self.rate_limit_remaining = remaining

    def on_wait(self, seconds: float, reason: str) -> None:
        # The daemon's metrics count requests and failures, not the waits between them.
        return None

    def record_success(self, at: datetime, duration: float) -> None:
        """Count a finished sync that stored its counts."""
        self.syncs_total += 1
        self.up = True
        self.last_success = at
        self.last_error = None
        self._observe(duration)

    def record_failure(self, reason: str, message: str, duration: float) -> None:
        """Count a failed sync by reason; the last good numbers stay in storage."""
        self.syncs_total += 1
        self.up = False
        self.failures[reason] += 1
        self.last_error = message
        self._observe(duration)

    def record_push(self, at: datetime) -> None:
        """Count an accepted push: a push source is up while pushes are accepted."""
        self.up = True
        self.last_error = None
        if self.last_success is None or at > self.last_success:
            self.last_success = at

    def record_push_refused(self, message: str) -> None:
        """A push the storage did not take: the source is down until one is accepted."""
        self.up = False
        self.last_error = message

    def record_suspect_read(self) -> None:
        """Count a read that would have lowered stored days (held, not stored)."""
        self.suspect_reads_total += 1

    def _observe(self, duration: float) -> None:
        self.bucket_counts[bisect.bisect_left(DURATION_BUCKETS, duration)] += 1
        self.duration_sum += duration

    def status(self) -> SourceStatus:
        """Return an immutable copy for the next snapshot."""
        cumulative: list[tuple[float, int]] = []
        running = 0
        for bound, count in zip((*DURATION_BUCKETS, float("inf")), self.bucket_counts, strict=True):
            running += count
            cumulative.append((bound, running))
        return SourceStatus(
            name=self.name,
            connector=self.connector,
            interval_seconds=self.interval_seconds,
            up=self.up,
            last_success=self.last_success,
            last_error=self.last_error,
            syncs_total=self.syncs_total,
            failures=dict(self.failures),
            http_requests=dict(self.http_requests),
            rate_limit_remaining=self.rate_limit_remaining,
            duration_buckets=tuple(cumulative),
            duration_sum=self.duration_sum,
            duration_count=running,
            pulled=self.pulled,
            suspect_reads_total=self.suspect_reads_total,
        )
