"""The database fixtures of tests/store (both backends), for the replica and retention tests."""

from tests.store.conftest import bare_engine, engine, pg_engine, postgres_schema_url, postgres_url

__all__ = ["bare_engine", "engine", "pg_engine", "postgres_schema_url", "postgres_url"]
