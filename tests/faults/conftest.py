"""Fixtures of the fault suite."""

from tests.faults.rig import postgres_database

__all__ = ["postgres_database"]
