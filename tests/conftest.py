"""Fixtures every test package may use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.processes import Process


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in reversed(started):
        process.stop()
