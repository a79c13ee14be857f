"""Source coverage: from which day each source's counts are stored without a gap up to its cursor.

A sync stores the window [first, last]; it extends the coverage only when it reaches the covered
days (or the day before them), so a backfill read oldest-first does not claim the gap it has not
read yet. The daemon's automatic backfill reads newest-first and so extends it chunk by chunk.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Date, Engine, and_, bindparam, case, select

from syncd.store.database import storage_errors
from syncd.store.dialect import insert_for
from syncd.store.models import SOURCE_COVERAGE

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["extend_coverage", "load_coverage", "record_coverage"]


def extend_coverage(connection: Connection, source: str, first_day: date, last_day: date) -> None:
    """Within the caller's transaction, record that `source` has every day in [first_day, last_day]."""
    parameters = {"source": source, "covered_from": first_day, "reaches_from": last_day + timedelta(days=1)}
    connection.execute(_coverage_upsert(connection.dialect.name), parameters)


@cache
def _coverage_upsert(dialect: str) -> postgresql.Insert | sqlite.Insert:
    """The coverage upsert, built once per dialect: building it per sync cost more than running it."""
    insert = insert_for(dialect, SOURCE_COVERAGE)
    current = SOURCE_COVERAGE.c.covered_from
    # Decided in one statement: a sync of the same source committing meanwhile is never undone.
    reaches = and_(insert.excluded.covered_from < current, bindparam("reaches_from", type_=Date) >= current)
    return insert.on_conflict_do_update(
        index_elements=[SOURCE_COVERAGE.c.source],
        set_={"covered_from": case((reaches, insert.excluded.covered_from), else_=current)},
    )


def record_coverage(engine: Engine, source: str, first_day: date, last_day: date) -> None:
    """Record that `source` has every day in [first_day, last_day], in a transaction of its own."""
    with storage_errors(engine, f"record the coverage of {source}"), engine.begin() as connection:
        extend_coverage(connection, source, first_day, last_day)


def load_coverage(engine: Engine) -> dict[str, date]:
    """Return source -> the first day of its gap-free stored counts, for every source that synced."""
    with storage_errors(engine, "load source coverage"), engine.connect() as connection:
        return {row.source: row.covered_from for row in connection.execute(select(SOURCE_COVERAGE))}
