"""Fakes shared across test packages: a clock that never sleeps, and a small configuration."""

from __future__ import annotations

from datetime import datetime, timedelta

from syncd.config import parse_config
from syncd.model import Config

TEST_ENV = {"LEMLIST_API_KEY": "lemlist-test-key-0001", "KIT_API_KEY": "kit-test-key-0001"}


class FakeClock:
    """A clock whose time moves only when someone sleeps on it or the test advances it."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._elapsed = 0.0
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._elapsed

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self._elapsed += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        self._elapsed += seconds


def make_config(text: str, **env: str) -> Config:
    """Parse a configuration text with the test credentials in its environment."""
    return parse_config(text, file="test.yaml", environ={**TEST_ENV, **env})


# CONTRACT §7 fixes this name; promtool's naming lint would have it in seconds. Nothing else is let through.
CONTRACT_NAMED_LINTS = frozenset(
    {'syncd_source_backfill_remaining_days use base unit "seconds" instead of "days"'},
)


def promtool_metric_lints(output: str) -> list[str]:
    """Return the lines of `promtool check metrics` output, less the ones CONTRACT §7's names cause."""
    return [line for line in output.splitlines() if line.strip() and line.strip() not in CONTRACT_NAMED_LINTS]
