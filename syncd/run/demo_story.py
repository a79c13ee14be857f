"""The demo's recorded steps: the counts people would have recorded into push sources by hand.

Push sources (interviews) have no API to fake, so without this the demo shows them at zero, a
shortfall that is no part of the story. Past local days only: today stays free for the README's
`syncd record` step, and `set` makes a restart of the demo rewrite the same values. As simulated
days go by, the running demo records each day that closes (`keep_recorded`: never over a count
someone recorded by hand).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import Engine

from syncd.model import Config
from syncd.store.push_repository import PushedCount, apply_pushed_counts, load_pushed_value

__all__ = ["RECORDED_PER_BUSINESS_DAY", "seed_recorded_counts"]

# Mean count a person records on a business day; 0.55 interviews a day is a recruiter slightly
# short of a 12-a-month goal.
RECORDED_PER_BUSINESS_DAY = 0.55


def seed_recorded_counts(
    config: Config, engine: Engine, *, now: datetime, seed: int, days: int = 120, keep_recorded: bool = False
) -> int:
    """Record `days` past days of seeded counts for every per-person KPI of a push source; return how many.

    With `keep_recorded`, a day that already holds a count keeps it.
    """
    today = now.astimezone(config.timezone).date()
    counts: dict[str, list[PushedCount]] = {}
    for kpi in config.kpis.values():
        for source_name in kpi.sources:
            source = config.sources.get(source_name)
            if source is None or source.connector != "push" or not kpi.per_person:
                continue
            for person in config.people.values():
                for subject in person.identities.get(source_name, ()):
                    for back in range(days, 0, -1):
                        day = today - timedelta(days=back)
                        if day.weekday() >= 5:
                            continue
                        if (
                            keep_recorded
                            and load_pushed_value(
                                engine, source=source_name, metric=kpi.metric, subject=subject, day=day
                            )
                            is not None
                        ):
                            continue
                        # Seeded per (seed, subject, day) like the sandbox's activity: any day rebuilds alone.
                        rng = random.Random(f"{seed}:{source_name}:{kpi.metric}:{subject}:{day}")  # noqa: S311 (demo data)
                        value = sum(rng.random() < RECORDED_PER_BUSINESS_DAY / 2 for _ in range(2))
                        counts.setdefault(source_name, []).append(PushedCount(kpi.metric, subject, day, float(value)))
    for source_name, batch in counts.items():
        apply_pushed_counts(engine, source=source_name, counts=batch, at=now)
    return sum(len(batch) for batch in counts.values())
