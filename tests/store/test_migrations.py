"""Engines, Alembic upgrades and storage errors on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import traceback
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from connectors.base import DailyCount
from syncd.errors import StorageError
from syncd.store import create_engine_for, load_daily_counts, load_source_states, ping, save_sync, upgrade
from syncd.store.database import MIGRATIONS_DIR, SCHEMA_HEAD, alembic_config
from syncd.store.models import with_partial_indexes

UNREACHABLE = "postgresql+psycopg://postgres:s3cret@127.0.0.1:1/x"
T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def revision_of(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1
    return heads[0]


def test_schema_head_names_the_newest_migration() -> None:
    assert head() == SCHEMA_HEAD


def _loads_alembic(url: str) -> bool:
    """Upgrade `url` in a new process; say whether that process imported Alembic."""
    probe = (
        "import sys; from syncd.store import create_engine_for, upgrade; "
        f"upgrade(create_engine_for({url!r})); print(any(m.startswith('alembic') for m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return {"True": True, "False": False}[done.stdout.strip()]


def test_only_a_database_behind_head_loads_alembic(tmp_path: Path) -> None:
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert not _loads_alembic(fresh)  # an empty database is created at head from the models
    assert revision_of(create_engine_for(fresh)) == head()
    assert not _loads_alembic(fresh)  # and then found at head

    behind = f"sqlite:///{tmp_path / 'behind.db'}"
    migrate_with_alembic(create_engine_for(behind), "0009")
    assert _loads_alembic(behind)
    assert revision_of(create_engine_for(behind)) == head()


def migrate_with_alembic(engine: Engine, revision: str = "head") -> None:
    """Run Alembic's upgrade itself, as a database made by an older syncd meets it."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def schema_of(engine: Engine) -> dict[str, dict[str, object]]:
    """Everything the inspector reflects of every table, in an order that does not depend on history."""
    inspector = inspect(engine)

    def plain(value: Any) -> Any:
        # Reflected types compare by identity: compare what they compile to.
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [plain(item) for item in value]
        return value if value is None or isinstance(value, str | int | float | bool) else str(value)

    def named(items: list[Any]) -> list[Any]:
        return sorted((plain(item) for item in items), key=lambda item: str(item.get("name")))

    return {
        table: {
            "columns": named(inspector.get_columns(table)),
            "primary key": plain(inspector.get_pk_constraint(table)),
            "foreign keys": named(inspector.get_foreign_keys(table)),
            "indexes": named(inspector.get_indexes(table)),
            "unique": named(inspector.get_unique_constraints(table)),
            "checks": named(inspector.get_check_constraints(table)),
        }
        for table in inspector.get_table_names()
    }


def test_an_empty_database_gets_the_schema_the_migrations_build(bare_engine: Engine) -> None:
    upgrade(bare_engine)  # empty: created from the models, stamped at head
    created = schema_of(bare_engine)
    assert "alembic_version" in created
    assert revision_of(bare_engine) == head()
    # The same database rebuilt by every migration from the first.
    config = alembic_config()
    with bare_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")  # also proves the created names are the ones migrations drop
        connection.execute(text("DROP TABLE alembic_version"))
    assert inspect(bare_engine).get_table_names() == []
    migrate_with_alembic(bare_engine)

    assert schema_of(bare_engine) == created


def test_upgrade_creates_the_tables_from_any_working_directory(
    bare_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no alembic.ini here: the config is built in code

    upgrade(bare_engine)

    tables = set(inspect(bare_engine).get_table_names())
    assert {"daily_counts", "source_state", "alembic_version"} <= tables
    assert revision_of(bare_engine) == head()


def test_upgrade_twice_is_a_no_op(engine: Engine) -> None:
    save_sync(
        engine,
        source="lemlist",
        metrics=["emails_sent"],
        counts=[DailyCount("emails_sent", "alice@acme.io", date(2026, 3, 1), 4.0)],
        replace_from=date(2026, 3, 1),
        replace_to=date(2026, 3, 1),
        cursor_end=T0,
        connector_state={},
        finished_at=T0,
    )
    before = revision_of(engine)

    upgrade(engine)

    assert revision_of(engine) == before == head()
    assert load_daily_counts(
        engine, keys=[("lemlist", "emails_sent")], first_day=date(2026, 3, 1), last_day=date(2026, 3, 1)
    ) == {("lemlist", "emails_sent"): {"alice@acme.io": {date(2026, 3, 1): 4.0}}}
    assert load_source_states(engine)["lemlist"].cursor_end == T0


def test_migrated_schema_matches_the_models(bare_engine: Engine) -> None:
    migrate_with_alembic(bare_engine)
    with bare_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, with_partial_indexes(connection.dialect.name)) == []


def test_downgrade_to_base_and_back(engine: Engine) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert not {"daily_counts", "source_state"} & set(inspect(engine).get_table_names())

    upgrade(engine)

    assert revision_of(engine) == head()


def test_a_database_from_a_newer_syncd_is_a_storage_error(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))

    with pytest.raises(StorageError, match="9999"):
        upgrade(engine)


def test_migrations_are_linear_and_named_by_revision() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    revisions = list(scripts.walk_revisions())
    assert len(scripts.get_heads()) == 1
    assert len(scripts.get_bases()) == 1
    for revision in revisions:
        assert revision.down_revision is None or isinstance(revision.down_revision, str)
        assert revision.path is not None
        assert re.fullmatch(rf"{revision.revision}_[a-z0-9_]+\.py", Path(revision.path).name)
        assert Path(revision.path).parent == MIGRATIONS_DIR / "versions"


def _assert_secret_hidden(exc: StorageError) -> None:
    assert "s3cret" not in str(exc)
    assert "s3cret" not in repr(exc)
    # Not in the chained driver error either: a traceback in a log must not leak it.
    assert "s3cret" not in "".join(traceback.format_exception(exc))


def test_unreachable_database_is_a_storage_error_without_the_password() -> None:
    engine = create_engine_for(UNREACHABLE)
    try:
        with pytest.raises(StorageError) as upgrading:
            upgrade(engine)
        with pytest.raises(StorageError) as loading:
            load_source_states(engine)
        with pytest.raises(StorageError) as pinging:
            ping(engine)
    finally:
        engine.dispose()

    for caught in (upgrading, loading, pinging):
        _assert_secret_hidden(caught.value)
        assert "postgres:***@127.0.0.1:1/x" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "mysql+pymysql://root:s3cret@127.0.0.1/x",
        "postgresql+psycopg2://postgres:s3cret@127.0.0.1/x",
        "not a url with s3cret",
    ],
)
def test_unsupported_urls_are_storage_errors_without_the_password(url: str) -> None:
    with pytest.raises(StorageError) as caught:
        create_engine_for(url)
    _assert_secret_hidden(caught.value)


def test_sqlite_file_runs_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'syncd.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 60_000
    finally:
        engine.dispose()


def test_in_memory_sqlite_is_one_database_across_threads() -> None:
    engine = create_engine_for("sqlite://")
    try:
        upgrade(engine)
        seen: list[dict[str, object]] = []
        # The daemon calls the store through asyncio.to_thread, so another thread must see the tables.
        worker = threading.Thread(target=lambda: seen.append(dict(load_source_states(engine))))
        worker.start()
        worker.join()
        assert seen == [{}]
    finally:
        engine.dispose()


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_plain_postgres_urls_mean_psycopg(scheme: str) -> None:
    engine = create_engine_for(f"{scheme}://postgres@127.0.0.1:5432/x")
    try:
        assert engine.url.drivername == "postgresql+psycopg"
    finally:
        engine.dispose()
