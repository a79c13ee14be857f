"""The PostgreSQL fixtures of tests/store, for the replica tests."""

from tests.store.conftest import postgres_schema_url, postgres_url

__all__ = ["postgres_schema_url", "postgres_url"]
