"""Upserts and deletes of daily counts handed to the database driver as plain tuples, inside the caller's transaction.

SQLAlchemy's executemany runs every parameter of every row through Python (parameter dicts, the
columns' bind processors, `UTCDateTime`): for a year of 10,000 series that cost three times the
write itself. Here each distinct value is encoded once with the column's own bind processor (a
year holds 365 days and one timestamp), so the stored text is exactly what SQLAlchemy would write,
and the rows go to the driver as tuples: sqlite3's executemany, psycopg's (pipeline mode), or on
PostgreSQL, for a large batch, COPY into a temporary table merged by one INSERT ... ON CONFLICT.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    import psycopg

from syncd.store.models import DAILY_COUNTS

__all__ = ["COPY_FROM_ROWS", "CountKey", "delete_counts", "upsert_counts"]

CountKey = tuple[str, str, date]  # (metric, subject, day) within one source

_TABLE = DAILY_COUNTS.name
_COLUMNS = "source, metric, subject, day, value, updated_at"
_KEY = "source, metric, subject, day"
# An unchanged value keeps its row and its updated_at untouched (no dead tuple on PostgreSQL).
_ON_CONFLICT = (
    f"ON CONFLICT ({_KEY}) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at "
    f"WHERE {_TABLE}.value <> excluded.value"
)
# From this many rows PostgreSQL gets COPY + one merge (a first sync, a backfill); below it, executemany:
# a temporary table per small sync would only churn the catalog.
COPY_FROM_ROWS = 5_000
# Rows per executemany call or COPY + merge: bounds what is held at once and each statement's time.
_BATCH_ROWS = 50_000
_STAGING = "syncd_incoming_counts"


def upsert_counts(
    connection: Connection, source: str, incoming: Mapping[CountKey, float], updated_at: datetime
) -> None:
    """Insert or update `source`'s counts; a row whose value is unchanged is left as it is."""
    if not incoming:
        return
    encode_day = _encoder(connection, "day")
    days = {day: encode_day(day) for day in {key[2] for key in incoming}}
    stamp = _encoder(connection, "updated_at")(updated_at)
    rows = ((source, metric, subject, days[day], value, stamp) for (metric, subject, day), value in incoming.items())
    if connection.dialect.name == "postgresql" and len(incoming) >= COPY_FROM_ROWS:
        _copy_and_merge(connection, rows)
        return
    marker = _marker(connection)
    statement = f"INSERT INTO {_TABLE} ({_COLUMNS}) VALUES ({', '.join([marker] * 6)}) {_ON_CONFLICT}"  # noqa: S608 - names are constants
    for batch in _batches(rows):
        connection.exec_driver_sql(statement, batch)


def delete_counts(connection: Connection, source: str, keys: Sequence[CountKey]) -> None:
    """Delete `source`'s counts at these keys."""
    if not keys:
        return
    encode_day = _encoder(connection, "day")
    days = {day: encode_day(day) for day in {key[2] for key in keys}}
    marker = _marker(connection)
    statement = (
        f"DELETE FROM {_TABLE} WHERE source = {marker} AND metric = {marker} AND subject = {marker} AND day = {marker}"  # noqa: S608 - names are constants
    )
    for batch in _batches((source, metric, subject, days[day]) for metric, subject, day in keys):
        connection.exec_driver_sql(statement, batch)


def _copy_and_merge(connection: Connection, rows: Iterator[tuple[object, ...]]) -> None:
    # Here, not at the top: every command imports syncd.store, and SQLite never needs psycopg (~90 ms).
    import psycopg

    # Dropped at commit (or with the rollback): nothing is left behind on a pooled connection. A
    # transaction may COPY more than once (a push of several sources): the later calls reuse the table.
    connection.exec_driver_sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGING} (LIKE {_TABLE}) ON COMMIT DROP")
    copy = f"COPY {_STAGING} ({_COLUMNS}) FROM STDIN (FORMAT BINARY)"
    merge = f"INSERT INTO {_TABLE} ({_COLUMNS}) SELECT {_COLUMNS} FROM {_STAGING} {_ON_CONFLICT}"  # noqa: S608 - names are constants
    driver = cast("psycopg.Connection[Any]", connection.connection.driver_connection)
    # Merged batch by batch: one statement for millions of rows would outlast statement_timeout.
    for batch in _batches(rows):
        # Emptied before each COPY, not after: whatever an earlier batch or call left (a savepoint
        # rolled back restores its rows) is never merged again.
        connection.exec_driver_sql(f"TRUNCATE {_STAGING}")
        try:
            with driver.cursor() as cursor, cursor.copy(copy) as writer:
                writer.set_types(["text", "text", "text", "date", "float8", "timestamptz"])
                for row in batch:
                    writer.write_row(row)
        except psycopg.Error as exc:
            # Wrapped as SQLAlchemy wraps its own statements, so storage_errors tells bad data from an outage.
            raise DBAPIError.instance(copy, None, exc, psycopg.Error) from exc
        connection.exec_driver_sql(merge)


def _encoder(connection: Connection, column: str) -> Callable[[Any], Any]:
    """Return the column's bind processor for this dialect (identity where the driver takes the value).

    The dialect's own type (SQLite's DATE, DATETIME), as SQLAlchemy's statements use: the generic
    type has none, and sqlite3's default adapters would write another text ("12:00:00", not "12:00:00.000000").
    """
    dialect = connection.dialect
    process = DAILY_COUNTS.c[column].type.dialect_impl(dialect).bind_processor(dialect)
    return process if process is not None else _identity


def _identity(value: Any) -> Any:
    return value


def _marker(connection: Connection) -> str:
    return "?" if connection.dialect.paramstyle == "qmark" else "%s"


def _batches(rows: Iterator[tuple[object, ...]]) -> Iterator[list[tuple[object, ...]]]:
    batch: list[tuple[object, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == _BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch
