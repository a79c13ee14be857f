"""A company-sized workload shared by the benchmarks: people, goals and a year of daily counts."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from syncd.config import parse_config
from syncd.model import Config

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
YEAR = 365
Counts = dict[tuple[str, str], dict[str, dict[date, float]]]


PUSH_TOKEN = "bench-push-token-0123456789"  # noqa: S105 - the workload's own test token


def config_text(people: int, database_url: str, *, push: bool = False, listen: str | None = None) -> str:
    """Return a configuration with two goals per person (so `people` × 2 goals) over two sources.

    Three goals in four have check-ins: every monthly goal weekly ones, every other quarterly goal monthly ones.
    With `push`, both sources take pushes (`lemlist` and `kit`, token PUSH_TOKEN), so a real `syncd run`
    reaches out to no vendor; `listen` is its HTTP address.
    """
    ppl = "\n".join(
        f"  p{i}: {{team: t{i % 50}, identities: {{lemlist: p{i}@acme.io, kit: tag{i}}}}}" for i in range(people)
    )
    teams = "\n".join(f"  t{i}: {{}}" for i in range(50))
    pacings = ("business_days", "linear", "{weights: {saturday: 0, sunday: 0, december: 0.5}}")
    goals = "\n".join(
        f"  - {{kpi: emails, owner: p{i}, period: month, target: 400, pacing: {pacings[i % 3]}, checkins: week}}\n"
        f"  - {{kpi: optins, owner: p{i}, period: quarter, target: 100{', checkins: month' if i % 2 else ''}}}"
        for i in range(people)
    )
    pulled = {
        "lemlist": "{connector: lemlist, api_key: bench-key-0001}",
        "kit": "{connector: kit, api_key: bench-key-0002}",
    }
    pushed = f'{{connector: push, token: "{PUSH_TOKEN}"}}'
    sources = "".join(f"  {name}: {pushed if push else settings}\n" for name, settings in pulled.items())
    address = f"listen: '{listen}'\n" if listen is not None else ""
    return (
        f"database_url: '{database_url}'\n{address}teams:\n{teams}\npeople:\n{ppl}\n"
        f"sources:\n{sources}"
        "kpis:\n  emails: {source: lemlist, metric: emails_sent, per_person: true}\n"
        "  optins: {source: kit, metric: new_subscribers, per_person: true}\n"
        f"goals:\n{goals}\n"
    )


def config(people: int, db: Path | None = None, *, push: bool = False) -> Config:
    """Return the parsed workload configuration."""
    url = f"sqlite:///{db}" if db is not None else "sqlite:///:memory:"
    return parse_config(config_text(people, url, push=push), file="bench")


def counts(people: int, days: int = YEAR, seed: int = 1) -> Counts:
    """Return `days` of daily counts up to NOW for every person, with quiet days."""
    rng = random.Random(seed)
    today = NOW.date()
    span = [today - timedelta(days=n) for n in range(days)][::-1]
    return {
        ("lemlist", "emails_sent"): {
            f"p{i}@acme.io": {day: float(rng.randrange(0, 30)) for day in span if rng.random() < 0.8}
            for i in range(people)
        },
        ("kit", "new_subscribers"): {
            f"tag{i}": {day: float(rng.randrange(0, 4)) for day in span if rng.random() < 0.5} for i in range(people)
        },
    }
