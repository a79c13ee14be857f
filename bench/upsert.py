"""Storing a year of daily counts for 10,000 series: `save_sync` against a bare DB-API executemany.

Both write the same rows into an empty `daily_counts` table (fresh database or schema each): the
baseline with a plain INSERT through the driver's executemany, syncd with its upsert (ON CONFLICT
... DO UPDATE WHERE the value changed), the stale-row check and the cursor, in one transaction.
SQLite always; PostgreSQL when SYNCD_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy import Engine, make_url, text

from connectors.base import DailyCount
from syncd.store import create_engine_for, upgrade
from syncd.store.repository import save_sync

SERIES = 10_000
DAYS = 365
AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _rows(series: int, days: int) -> list[DailyCount]:
    first = date(2025, 11, 24)
    return [
        DailyCount("emails_sent", f"p{i}@acme.io", first + timedelta(days=d), float((i + d) % 17))
        for i in range(series)
        for d in range(days)
    ]


@contextmanager
def _sqlite() -> Iterator[Callable[[], Engine]]:
    with TemporaryDirectory() as tmp:
        made = iter(range(1_000))
        yield lambda: create_engine_for(f"sqlite:///{Path(tmp) / f'bench{next(made)}.db'}")


@contextmanager
def _postgres(url: str) -> Iterator[Callable[[], Engine]]:
    admin = create_engine_for(url)
    schemas: list[str] = []

    def fresh() -> Engine:
        schema = f"syncd_bench_{uuid.uuid4().hex}"
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        schemas.append(schema)
        return create_engine_for(
            make_url(url)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )

    try:
        yield fresh
    finally:
        with admin.begin() as connection:
            for schema in schemas:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _bare(engine: Engine, rows: list[DailyCount]) -> float:
    marker = "?" if engine.dialect.name == "sqlite" else "%s"
    stamp: object = AT.isoformat() if engine.dialect.name == "sqlite" else AT
    params = [("lemlist", r.metric, r.subject, r.day, r.value, stamp) for r in rows]
    columns = "source, metric, subject, day, value, updated_at"
    sql = f"INSERT INTO daily_counts ({columns}) VALUES ({', '.join([marker] * 6)})"  # noqa: S608 - placeholders only
    connection = engine.raw_connection()
    try:
        started = time.perf_counter()
        cursor = connection.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("BEGIN")  # SQLAlchemy leaves pysqlite in autocommit: one transaction, as save_sync
        cursor.executemany(sql, params)
        connection.commit()
        return time.perf_counter() - started
    finally:
        connection.close()


def _syncd(engine: Engine, rows: list[DailyCount]) -> float:
    started = time.perf_counter()
    save_sync(
        engine,
        source="lemlist",
        metrics=["emails_sent"],
        counts=rows,
        replace_from=rows[0].day,
        replace_to=rows[-1].day,
        cursor_end=AT,
        connector_state={},
        finished_at=AT,
    )
    return time.perf_counter() - started


def _measure(name: str, fresh: Callable[[], Engine], rows: list[DailyCount]) -> None:
    timings = {}
    for label, write in (("bare", _bare), ("syncd", _syncd)):
        engine = fresh()
        upgrade(engine)
        timings[label] = write(engine, rows)
        engine.dispose()
    print(
        f"{name}: {len(rows):,} rows: bare executemany {timings['bare']:.1f} s, save_sync {timings['syncd']:.1f} s "
        f"= {timings['syncd'] / timings['bare']:.2f}x (goal <= 1.5x)"
    )


def main(series: int = SERIES, days: int = DAYS) -> None:
    """Print save_sync's cost as a ratio to bare executemany, per database."""
    rows = _rows(series, days)
    with _sqlite() as fresh:
        _measure("SQLite", fresh, rows)
    url = os.environ.get("SYNCD_TEST_POSTGRES_URL")
    if url:
        with _postgres(url) as fresh:
            _measure("PostgreSQL", fresh, rows)
    else:
        print("PostgreSQL: skipped (set SYNCD_TEST_POSTGRES_URL)")
    sys.stdout.flush()


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
