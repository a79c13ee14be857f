"""Metric names and label values kept in syncd/serve/metrics.py match what the code emits."""

from __future__ import annotations

from syncd import errors
from syncd.serve.metrics import FAILURE_REASONS


def test_every_failure_reason_is_documented():
    reasons = {
        cls.reason for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.SourceError)
    }
    assert reasons - {"error"} <= set(FAILURE_REASONS)
