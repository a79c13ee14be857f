"""Storing a year of daily counts for 10,000 series: `save_sync` against a bare DB-API executemany.

Both start from the same list of `DailyCount`s and write it into an empty `daily_counts` table (a
fresh database or schema each time), timed from that list to the commit: the baseline turns it into
parameter tuples and INSERTs them with the driver's executemany in one transaction; syncd runs
`save_sync` (index and check the counts, read the range, upsert ON CONFLICT ... DO UPDATE WHERE the
value changed, delete stale rows, cursor, coverage, change feed) in one transaction. Each pair runs
`repeats` times, alternating which goes first; the min and median ratios are printed.
SQLite always; PostgreSQL at SYNCD_TEST_POSTGRES_URL (default: the local test server, skipped when
it does not answer).

`python -m bench.upsert` runs 1,000 series x 365 days (365,000 rows) three times; the issue's size,
10,000 series (3.65 million rows), is `python -m bench.upsert 10000 365 1`.
"""

from __future__ import annotations

import os
import statistics
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
from syncd.errors import StorageError
from syncd.store import create_engine_for, ping, upgrade
from syncd.store.repository import save_sync

# `make bench` runs a tenth of the 10,000 series: the size takes minutes per run.
SERIES = 1_000
DAYS = 365
REPEATS = 3
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
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
    columns = "source, metric, subject, day, value, updated_at"
    sql = f"INSERT INTO daily_counts ({columns}) VALUES ({', '.join([marker] * 6)})"  # noqa: S608 - placeholders only
    connection = engine.raw_connection()
    try:
        started = time.perf_counter()
        params = [("lemlist", r.metric, r.subject, r.day, r.value, stamp) for r in rows]
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


def _measure(name: str, fresh: Callable[[], Engine], rows: list[DailyCount], repeats: int) -> None:
    timings: dict[str, list[float]] = {"bare": [], "syncd": []}
    for run in range(repeats):
        order = (("bare", _bare), ("syncd", _syncd))
        for label, write in order if run % 2 == 0 else order[::-1]:
            engine = fresh()
            upgrade(engine)
            timings[label].append(write(engine, rows))
            engine.dispose()
    ratios = sorted(s / b for s, b in zip(timings["syncd"], timings["bare"], strict=True))
    bare, synced = statistics.median(timings["bare"]), statistics.median(timings["syncd"])
    print(
        f"{name}: {len(rows):,} rows, {repeats} run(s): bare executemany median {bare:.2f} s, "
        f"save_sync median {synced:.2f} s; ratio min {ratios[0]:.2f}x, median {statistics.median(ratios):.2f}x "
        "(goal <= 1.5x)"
    )


def _postgres_url() -> str | None:
    url = os.environ.get("SYNCD_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    engine = create_engine_for(url)
    try:
        ping(engine)
    except StorageError as exc:
        print(f"PostgreSQL: skipped ({exc}; set SYNCD_TEST_POSTGRES_URL)")
        return None
    finally:
        engine.dispose()
    return url


def main(series: int = SERIES, days: int = DAYS, repeats: int = REPEATS) -> None:
    """Print save_sync's cost as a ratio to bare executemany, per database."""
    rows = _rows(series, days)
    with _sqlite() as fresh:
        _measure("SQLite", fresh, rows, repeats)
    url = _postgres_url()
    if url:
        with _postgres(url) as fresh:
            _measure("PostgreSQL", fresh, rows, repeats)
    sys.stdout.flush()


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:4]))
