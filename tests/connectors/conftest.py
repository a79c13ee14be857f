"""Fakes shared by the connector tests: a clock that never sleeps and an observer that records."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.base import ConnectorContext
from tests.fakes import FakeClock

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
START = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)


class RecordingObserver:
    """Remembers every response code and remaining-quota value the HTTP layer reports."""

    def __init__(self) -> None:
        self.codes: list[str] = []
        self.remaining: list[float] = []
        self.waits: list[tuple[float, str]] = []

    def on_response(self, code: str) -> None:
        self.codes.append(code)

    def on_rate_limit_remaining(self, remaining: float) -> None:
        self.remaining.append(remaining)

    def on_wait(self, seconds: float, reason: str) -> None:
        self.waits.append((seconds, reason))


def load_fixture(vendor: str, name: str) -> object:
    """Read a recorded response body from tests/fixtures/<vendor>/<name>."""
    return json.loads((FIXTURES / vendor / name).read_text())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def observer() -> RecordingObserver:
    return RecordingObserver()


@pytest.fixture
def context(clock: FakeClock, observer: RecordingObserver) -> ConnectorContext:
    return ConnectorContext(source="acme", timezone=ZoneInfo("UTC"), clock=clock, observer=observer)
