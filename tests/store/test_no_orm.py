"""syncd runs on SQLAlchemy Core alone: the ORM (6 MB of the daemon's memory once imported) stays out, and so
does the PostgreSQL dialect (3 MB, every PostgreSQL driver's) from a daemon that stores to SQLite."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Run in a fresh interpreter: the test process itself has the ORM loaded (Alembic's autogenerate uses it).
# A finder placed first records who asks for sqlalchemy.orm, so a failure names the importer.
PROBE = """
import json, sys, traceback
from datetime import UTC, date, datetime

importers = []

class _WhoImportsTheOrm:
    def find_spec(self, name, path=None, target=None):
        if name in ("sqlalchemy.orm", "sqlalchemy.dialects.postgresql"):
            frames = [f for f in traceback.extract_stack() if not f.filename.startswith("<")]
            importers.append("".join(traceback.format_list(frames[-6:])))
        return None

sys.meta_path.insert(0, _WhoImportsTheOrm())

import syncd.cli.main, syncd.run.daemon, syncd.serve.web, connectors
from connectors.base import DailyCount
from syncd.store import create_engine_for, load_daily_counts, save_sync, upgrade

engine = create_engine_for(sys.argv[1])
upgrade(engine)
at = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
day = date(2026, 3, 1)
save_sync(
    engine, source="lemlist", metrics=["emails_sent"], counts=[DailyCount("emails_sent", "alice@acme.io", day, 4.0)],
    replace_from=day, replace_to=day, cursor_end=at, connector_state={}, finished_at=at,
)
loaded = load_daily_counts(engine, keys=[("lemlist", "emails_sent")], first_day=day, last_day=day)
print(json.dumps({
    "loaded": {subject: {d.isoformat(): v for d, v in values.items()} for subject, values in loaded["lemlist", "emails_sent"].items()},
    "orm_modules": sorted(m for m in sys.modules if m.startswith("sqlalchemy.orm")),
    "postgresql_modules": sorted(m for m in sys.modules if m.startswith("sqlalchemy.dialects.postgresql")),
    "importers": importers,
}))
"""  # fmt: skip


def test_the_daemon_stores_and_reads_counts_without_importing_the_orm(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    done = subprocess.run([sys.executable, "-c", PROBE, url], capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)

    assert report["loaded"] == {"alice@acme.io": {"2026-03-01": 4.0}}  # the empty database was created and used
    assert report["orm_modules"] == [], "\n".join(report["importers"])
    assert report["postgresql_modules"] == [], "\n".join(report["importers"])
