"""Engines, Alembic upgrades and storage errors on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import traceback
from datetime import UTC, date, datetime
from pathlib import Path

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
from syncd.store.models import Base

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


def test_a_database_at_head_is_upgraded_without_loading_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'at_head.db'}"
    upgrade(create_engine_for(url))
    probe = (
        "import sys; from syncd.store import create_engine_for, upgrade; "
        f"upgrade(create_engine_for({url!r})); print(any(m.startswith('alembic') for m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    done = subprocess.run(
        [sys.executable, "-c", probe.replace(repr(url), repr(fresh))], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "True"


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


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


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
