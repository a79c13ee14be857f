"""Engines for the two supported databases, schema upgrades, and storage error wrapping."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    event,
    inspect,
    make_url,
    text,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DataError, DBAPIError
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from syncd.errors import StorageDataError, StorageError
from syncd.store.models import Base, with_partial_indexes

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "MIGRATIONS_DIR",
    "begin_durable",
    "create_engine_for",
    "normalise_database_url",
    "ping",
    "storage_errors",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Any fixed number, the same in every replica: the key of the schema upgrade's transaction lock.
_UPGRADE_LOCK_KEY = 0x73796E6364  # "syncd"
# A writer holding the SQLite lock (another process, a backfill) is waited for this long: writes
# queue behind each other, so this bounds the whole queue (20 sources plus a backfill), not one write.
# It is a write's whole wait: the time queued behind this process's own writers comes off it, so a
# write gives up within about 60 s, half the database executor's 120 s bound on a call.
_SQLITE_BUSY_TIMEOUT_MS = 60_000
# This process's writers queue on the engine's lock for at most half that: a writer holding it longer
# is stuck (a hung statement), and the rest of the budget is left for other processes' writers.
_SQLITE_WRITE_LOCK_WAIT_S = 30.0
# Set on a connection opened by `engine.begin()`, whose transaction writes: the busy timeout, in ms,
# left for that transaction (see _SQLiteEngine).
_WRITE_OPTION = "syncd_sqlite_write"
# Where a pooled connection remembers the busy timeout it was last given.
_BUSY_TIMEOUT_KEY = "syncd_busy_timeout_ms"
# SQLite's `synchronous` for writes (see _on_connect), FULL for a `begin(durable=True)`; the
# connection's current setting is kept in its info under _SYNCHRONOUS_KEY.
_SQLITE_SYNCHRONOUS = "NORMAL"
_DURABLE_OPTION = "syncd_sqlite_durable"
_SYNCHRONOUS_KEY = "syncd_synchronous"
# An unroutable PostgreSQL host fails after this many seconds instead of hanging a sync.
_POSTGRES_CONNECT_TIMEOUT_S = 10
# Settings each session asks of the server (libpq `options`); a value given in the URL wins.
_POSTGRES_SESSION_SETTINGS = {
    # A statement the server works on longer than this is cancelled by the server (a lock wait, a stuck plan).
    "statement_timeout": 60_000,
    # A transaction whose client went silent between two statements (a frozen VM, a partition behind a
    # proxy that keeps the TCP connection up) is ended by the server after this many ms, so the row
    # locks it holds (a source's lease, taken FOR UPDATE by the fence check) do not outlive it by the
    # server's TCP keepalive time (two hours by default). syncd never waits between statements.
    "idle_in_transaction_session_timeout": 10_000,
}
# A silently dropped peer (a partition, a dead NAT entry) is noticed after about idle + interval * count
# seconds of keepalives, and sent data left unacknowledged for tcp_user_timeout fails the connection.
_POSTGRES_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}
# Waiting for a pooled connection (all of them stuck on a silent server) fails after this many seconds.
_POOL_TIMEOUT_S = 10


def create_engine_for(url: str) -> Engine:
    """Return an engine for a `sqlite:` or PostgreSQL URL, tuned for syncd's use."""
    try:
        parsed = make_url(normalise_database_url(url))
    except ArgumentError:
        # The text may hold a password, so it is not repeated.
        raise StorageError("database_url is not a valid database URL") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    if backend == "postgresql":
        return _postgres_engine(parsed)
    raise StorageError(f"unsupported database {_safe(parsed)}: syncd stores to sqlite or postgresql+psycopg")


def normalise_database_url(url: str) -> str:
    """Accept `postgres://` and `postgresql://` (what Heroku, libpq and most docs write) as psycopg URLs."""
    for scheme in ("postgres://", "postgresql://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


def _sqlite_engine(url: URL) -> Engine:
    in_memory = url.database in (None, "", ":memory:")
    if in_memory:
        # One shared connection, else every database thread would see its own empty database.
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        # One connection per source syncing at once, and writers queue on the file lock, not the pool.
        engine = create_engine(url, pool_size=10, max_overflow=30, pool_timeout=120)
    # Only the class changes, so `engine.begin()` can tell writes from reads (see _SQLiteEngine).
    engine.__class__ = _SQLiteEngine
    engine.syncd_write_lock = threading.RLock()  # type: ignore[attr-defined]
    engine.syncd_monotonic = time.monotonic  # type: ignore[attr-defined]

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        # Hand transaction control to SQLAlchemy's BEGIN below: pysqlite's own implicit BEGIN is
        # issued only before DML, so a read followed by writes would not be one transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_TIMEOUT_MS}")
            if not in_memory:
                # Readers (status, the web page) then never block the writer, nor it them.
                cursor.execute("PRAGMA journal_mode = WAL")
                # WAL with NORMAL: a commit is in the WAL file (the OS's cache) when it returns, so it
                # survives the process's crash; only a power loss or an OS crash can take the last few
                # commits, which a sync reads again from its vendor (counts and cursor go together).
                # The fsync per commit was most of a 1,000-source round's writing. Data that exists
                # nowhere else once acknowledged (pushes, `syncd record`) commits FULL: begin_durable.
                cursor.execute(f"PRAGMA synchronous = {_SQLITE_SYNCHRONOUS}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A deferred BEGIN that reads, then writes, is refused at once ("database is locked") when
        # another writer got the lock in between, whatever busy_timeout says: SQLite cannot wait
        # there without breaking the snapshot already read. A write transaction therefore takes
        # the lock up front, where busy_timeout applies; reads stay deferred and never block (WAL).
        busy_ms = connection.get_execution_options().get(_WRITE_OPTION)
        if busy_ms is None:
            connection.exec_driver_sql("BEGIN")
            return
        if connection.info.get(_BUSY_TIMEOUT_KEY, _SQLITE_BUSY_TIMEOUT_MS) != busy_ms:
            connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(busy_ms)}")
            connection.info[_BUSY_TIMEOUT_KEY] = busy_ms
        # Set before BEGIN: SQLite refuses to change it inside a transaction.
        synchronous = "FULL" if connection.get_execution_options().get(_DURABLE_OPTION) else _SQLITE_SYNCHRONOUS
        if connection.info.get(_SYNCHRONOUS_KEY, _SQLITE_SYNCHRONOUS) != synchronous:
            connection.exec_driver_sql(f"PRAGMA synchronous = {synchronous}")
            connection.info[_SYNCHRONOUS_KEY] = synchronous
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class _SQLiteEngine(Engine):
    """An engine whose `begin()` transactions take SQLite's write lock up front (BEGIN IMMEDIATE).

    Every write in syncd goes through `engine.begin()`; reads use `engine.connect()` and stay deferred.
    """

    syncd_write_lock: threading.RLock
    syncd_monotonic: Callable[[], float]

    @contextmanager
    def begin(self, *, durable: bool = False) -> Iterator[Connection]:
        """Open a connection in a write transaction, committed on success, rolled back on error.

        `durable`: the commit is on disk when it returns (synchronous FULL), not only in the WAL.

        This process's writers queue on a lock first: SQLite's busy handler polls with sleeps of
        up to 100 ms, so a burst of writers (1,000 sources finishing together) would spend far
        longer asleep than writing. Other processes are then waited for through busy_timeout,
        less the time spent in that queue. A lock not had within _SQLITE_WRITE_LOCK_WAIT_S means
        a writer of this process is stuck: the write fails as locked rather than wait on.
        """
        started = self.syncd_monotonic()
        if not self.syncd_write_lock.acquire(timeout=_SQLITE_WRITE_LOCK_WAIT_S):
            raise StorageError(
                f"cannot write to {_safe(self.url)}: database is locked: another write of this process "
                f"has held its SQLite write lock for over {_SQLITE_WRITE_LOCK_WAIT_S:g} s"
            )
        try:
            # Whole seconds: a write that queued under a second keeps the connection's setting, so
            # the usual write runs no extra PRAGMA.
            queued_s = int(self.syncd_monotonic() - started)
            with self.connect() as connection:
                connection.execution_options(
                    **{_WRITE_OPTION: _SQLITE_BUSY_TIMEOUT_MS - queued_s * 1000, _DURABLE_OPTION: durable}
                )
                with connection.begin():
                    yield connection
        finally:
            self.syncd_write_lock.release()


def begin_durable(engine: Engine) -> AbstractContextManager[Connection]:
    """Return `engine.begin()` for data that exists nowhere else once acknowledged (a push).

    On SQLite its commit is synced to disk before it returns, which also makes every earlier commit
    durable (the WAL is one file); PostgreSQL commits are durable already.
    """
    if isinstance(engine, _SQLiteEngine):
        return engine.begin(durable=True)
    return engine.begin()


def _postgres_engine(url: URL) -> Engine:
    if url.get_driver_name() != "psycopg":
        raise StorageError(f"unsupported driver in {_safe(url)}: use postgresql+psycopg://")
    connect_args: dict[str, Any] = postgres_connect_args(url)
    # pre_ping: connections idle between syncs may have been closed by the server or a proxy.
    return create_engine(url, pool_pre_ping=True, pool_timeout=_POOL_TIMEOUT_S, connect_args=connect_args)


def postgres_connect_args(url: URL) -> dict[str, Any]:
    """Return libpq settings bounding a dead or silent server; a value given in the URL wins."""
    wanted: dict[str, Any] = {"connect_timeout": _POSTGRES_CONNECT_TIMEOUT_S, **_POSTGRES_KEEPALIVES}
    connect_args = {key: value for key, value in wanted.items() if key not in url.query}
    given = url.query.get("options", "")
    options = given if isinstance(given, str) else " ".join(given)
    # Added to the URL's own options (a search_path, say), which connect_args would replace.
    added = [f"-c {name}={value}" for name, value in _POSTGRES_SESSION_SETTINGS.items() if name not in options]
    if added:
        connect_args["options"] = " ".join([options, *added]).strip()
    return connect_args


def _safe(url: URL) -> str:
    return url.render_as_string(hide_password=True)


@contextmanager
def storage_errors(engine: Engine, action: str) -> Iterator[None]:
    """Turn a database failure inside the block into a StorageError naming `action`, without the password."""
    try:
        yield
    except DataError as exc:
        # Bad values (numeric overflow, NUL in text), not an outage: callers answer 422, not 503.
        raise StorageDataError(f"cannot {action}: {_driver_message(engine, exc)}") from exc
    except DBAPIError as exc:
        raise StorageError(f"cannot {action} at {_safe(engine.url)}: {_driver_message(engine, exc)}") from exc


def _driver_message(engine: Engine, exc: DBAPIError) -> str:
    first_line = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
    password = engine.url.password
    # Drivers do not echo passwords today; this keeps it so if one ever does.
    if password:
        first_line = first_line.replace(str(password), "***")
    return first_line


def ping(engine: Engine) -> None:
    """Run one trivial query; raise StorageError if the database cannot answer it."""
    with storage_errors(engine, "reach the database"), engine.connect() as connection:
        connection.execute(text("SELECT 1"))


# The newest migration's revision (tests/store/test_schema_head.py checks it against Alembic's head).
# A database already there is not handed to Alembic, which is 10 MB of the daemon's memory once imported.
SCHEMA_HEAD = "0010"


def _stored_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    revisions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return revisions[0] if len(revisions) == 1 else None


def _holds_no_table(connection: Connection) -> bool:
    # Nothing of syncd's, nor Alembic's table (a failed first upgrade leaves neither: one transaction).
    names = set(inspect(connection).get_table_names())
    return not names & {*Base.metadata.tables, "alembic_version"}


def _create_at_head(connection: Connection) -> None:
    """Create an empty database's schema from the models and record it at SCHEMA_HEAD, without Alembic.

    Alembic's recipe for a new database ("building an up to date database from scratch": create_all,
    then stamp head), done by hand so a daemon started on an empty database does not load Alembic
    (10 MB of its memory with Mako and Pygments). Migrations are for the data a database already
    holds; tests/store/test_migrations.py checks the two schemas are the same on both databases.
    """
    with_partial_indexes(connection.dialect.name).create_all(connection)
    # Alembic's own version table, as `alembic stamp` creates it.
    version = Table(
        "alembic_version",
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
    )
    version.create(connection)
    connection.execute(version.insert().values(version_num=SCHEMA_HEAD))


def alembic_config() -> Config:
    """Return an Alembic config whose scripts live inside the installed package, whatever the cwd."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(engine: Engine) -> None:
    """Apply every migration up to the newest (`alembic upgrade head`); a no-op when already there."""
    # One transaction: on PostgreSQL and SQLite a failed migration leaves the schema as it was.
    with storage_errors(engine, "upgrade the schema"), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Replicas starting together upgrade one at a time; the others then find the schema at
            # head. A transaction-scoped lock, released at commit, so it is safe behind PgBouncer.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK_KEY})
        revision = _stored_revision(connection)
        if revision == SCHEMA_HEAD:
            return
        if revision is None and _holds_no_table(connection):
            _create_at_head(connection)
            return
        from alembic import command
        from alembic.util import CommandError

        config = alembic_config()
        config.attributes["connection"] = connection
        try:
            command.upgrade(config, "head")
        except CommandError as exc:
            # e.g. the database was migrated by a newer syncd than this one.
            raise StorageError(f"cannot upgrade the schema at {_safe(engine.url)}: {exc}") from exc
