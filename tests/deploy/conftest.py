"""Fixtures of the deployment tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.stack import Stack


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """Yield a Stack whose processes are all stopped after the test."""
    s = Stack(tmp_path)
    try:
        yield s
    finally:
        s.stop_all()
