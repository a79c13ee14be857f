"""Engines on a fresh SQLite file and on a fresh PostgreSQL schema, one per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from syncd.store import create_engine_for, upgrade

POSTGRES_URL_ENV = "SYNCD_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """Return the test server's URL; skip without one, except in CI where it must be there."""
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{POSTGRES_URL_ENV} must be set when CI=true: the PostgreSQL tests may not skip")
        pytest.skip(f"{POSTGRES_URL_ENV} is not set")
    return url


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """Return a URL whose connections see only a schema made for this test, dropped afterwards."""
    schema = f"syncd_test_{uuid.uuid4().hex}"
    admin = create_engine(postgres_url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        # libpq's `options` sets search_path per connection, so tables and alembic_version land in
        # the schema and parallel test files never meet.
        url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


def _url_for(backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('store') / 'syncd.db'}"
    url: str = request.getfixturevalue("postgres_schema_url")
    return url


@pytest.fixture
def pg_engine(postgres_schema_url: str) -> Iterator[Engine]:
    """Return an engine on a fresh PostgreSQL schema migrated to the newest schema (PostgreSQL-only tests)."""
    engine = create_engine_for(postgres_schema_url)
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def bare_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """Return an engine on an empty database, on each backend."""
    engine = create_engine_for(_url_for(request.param, request, tmp_path_factory))
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def engine(bare_engine: Engine) -> Engine:
    """Return an engine on a database migrated to the newest schema, on each backend."""
    upgrade(bare_engine)
    return bare_engine


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the combinations that cannot exist (COPY on SQLite) rather than skip them.

    In CI a skipped database test reads as a failure to run it; these were never meant to run.
    """
    kept, left_out = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        copy_on_sqlite = params.get("write_path") == "copy" and params.get("bare_engine") == "sqlite"
        (left_out if copy_on_sqlite or _needs_copy_path(item, params) else kept).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


def _needs_copy_path(item: pytest.Item, params: dict[str, object]) -> bool:
    # Tests marked `copy_only` run through COPY on PostgreSQL alone.
    return item.get_closest_marker("copy_only") is not None and params.get("write_path") != "copy"
