"""The shared-work evaluator gives exactly the reference evaluator's figures, on random goals."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from syncd.engine.day_values import DayValues
from syncd.engine.evaluate import evaluate_goals
from syncd.engine.fast_evaluate import EvaluationCache, evaluate_goals_fast
from tests.fakes import make_config

PACINGS = ("linear", "business_days", "history", "{weights: {saturday: 0, sunday: 0.5, december: 0.25}}")
PERIODS = ("week", "fortnight", "month", "quarter", "year", "{start: 2026-11-10, end: 2026-12-20}")
CHECKINS = ("", ", checkins: week", ", checkins: month", ", checkins: fortnight", ", checkins: [month, week]")
# A check-in level must be shorter than the goal's period (a config error otherwise).
_SHORTER = {"week": ("",), "fortnight": ("", ", checkins: week")}


def _checkins_for(period: str) -> tuple[str, ...]:
    if period in _SHORTER:
        return _SHORTER[period]
    if period == "month":
        return ("", ", checkins: week", ", checkins: fortnight")
    return CHECKINS


# Whole counts (events) take the prefix-sum path (syncd.engine.series); any fraction, the reference's sums.
WHOLE = (0.0, 0.0, 1.0, 2.0, 3.0, 12.0, 29.0)
MIXED = (0.0, 1.0, 0.1, 0.7, 3.0, 12.5)


def _random_case(
    rng: random.Random, values: tuple[float, ...] = MIXED
) -> tuple[str, dict[tuple[str, str], dict[str, dict[date, float]]], datetime]:
    people = 6
    lines = [
        f"timezone: {rng.choice(['UTC', 'Europe/London', 'America/New_York', 'Australia/Sydney'])}",
        f"week_start: {rng.choice(['monday', 'sunday'])}",
        "holidays: [2026-11-11, 2026-12-25]",
        "teams: {t0: {}, t1: {}}",
        "people:",
        *(
            f"  p{i}: {{team: t{i % 2}, identities: {{lemlist: P{i}@Acme.io, kit: tag{i}, outbound: O{i}@acme.io}}}}"
            for i in range(people)
        ),
        "sources:",
        '  lemlist: {connector: lemlist, api_key: "${LEMLIST_API_KEY}"}',
        '  kit: {connector: kit, api_key: "${KIT_API_KEY}"}',
        '  outbound: {connector: lemlist, api_key: "${LEMLIST_API_KEY}"}',
        "kpis:",
        "  emails: {source: lemlist, metric: emails_sent, per_person: true}",
        "  list: {source: kit, metric: new_subscribers, kind: stock}",
        "  subs: {source: kit, metric: new_subscribers, per_person: true}",
        "  both: {source: [lemlist, outbound], metric: emails_sent, per_person: true}",
        "  levels: {source: lemlist, metric: emails_sent, kind: stock, per_person: true}",
        "goals:",
    ]
    seen: set[tuple[str, str, str]] = set()
    for _ in range(25):
        kpi = rng.choice(["emails", "list", "subs", "both", "levels"])
        owner = rng.choice([*(f"p{i}" for i in range(people)), "t0", "t1"])
        period = rng.choice(PERIODS)
        if (kpi, owner, period) in seen:
            continue
        seen.add((kpi, owner, period))
        stock = kpi in ("list", "levels")
        extra = f", baseline: {rng.randint(0, 50)}" if stock and rng.random() < 0.5 else ""
        direction = ", direction: at_most" if stock and rng.random() < 0.3 else ""
        tolerance = rng.choice(["", "", ", tolerance: 0", ", tolerance: 0.25"])
        lines.append(
            f"  - {{kpi: {kpi}, owner: {owner}, period: {period}, target: {rng.choice([0.5, 7, 100, 333.3])}, "
            f"pacing: {rng.choice(PACINGS)}{rng.choice(_checkins_for(period))}{extra}{direction}{tolerance}}}"
        )
    start = date(2025, 9, 1)
    counts: dict[tuple[str, str], dict[str, dict[date, float]]] = {}
    for key, subjects in (
        (("lemlist", "emails_sent"), [f"p{i}@acme.io" for i in range(people)] + ["P1@ACME.IO", "x@y"]),
        (("kit", "new_subscribers"), [f"tag{i}" for i in range(people)] + ["all"]),
        (("outbound", "emails_sent"), [f"o{i}@ACME.io" for i in range(people)]),
    ):
        counts[key] = {
            subject: {
                start + timedelta(days=rng.randrange(480)): rng.choice(values) for _ in range(rng.randrange(0, 200))
            }
            for subject in subjects
        }
    instant = datetime(2026, 10, 20, tzinfo=UTC) + timedelta(seconds=rng.randrange(120 * 86400))
    return "\n".join(lines) + "\n", counts, instant


@pytest.mark.parametrize("values", [MIXED, WHOLE], ids=["mixed", "whole"])
@pytest.mark.parametrize("seed", range(12))
def test_fast_path_equals_reference_on_random_goals(seed: int, values: tuple[float, ...]) -> None:
    text, counts, instant = _random_case(random.Random(seed), values)
    config = make_config(text)
    reference = evaluate_goals(config, counts, instant)
    fast = evaluate_goals_fast(config, counts, instant)
    assert len(fast) == len(config.goals) > 10
    for want, got in zip(reference, fast, strict=True):
        assert got == want  # every figure, to the last bit
    # The second evaluation reuses the caches of the first and still agrees.
    assert evaluate_goals_fast(config, counts, instant) == reference


@pytest.mark.parametrize("values", [MIXED, WHOLE], ids=["mixed", "whole"])
@pytest.mark.parametrize("seed", range(6))
def test_counts_held_as_the_daemon_holds_them_give_the_same_figures(seed: int, values: tuple[float, ...]) -> None:
    # The daemon's counts are DayValues (arrays the series read in place), the reference's here plain
    # dicts in random day order: every figure equal to the last bit, after a tick as well.
    text, counts, instant = _random_case(random.Random(500 + seed), values)
    config = make_config(text)
    held = {key: {subject: DayValues.of(days) for subject, days in by.items()} for key, by in counts.items()}
    cache = EvaluationCache()
    assert evaluate_goals_fast(config, held, instant, cache) == evaluate_goals(config, counts, instant)
    later = instant + timedelta(hours=5)
    assert evaluate_goals_fast(config, held, later, cache) == evaluate_goals(config, counts, later)


@pytest.mark.parametrize("values", [MIXED, WHOLE], ids=["mixed", "whole"])
@pytest.mark.parametrize("seed", range(6))
def test_ticks_reusing_a_day_of_work_equal_the_reference(seed: int, values: tuple[float, ...]) -> None:
    # One cache through a day: ticks where only time moved (incl. the day's last microsecond and a
    # DST day's extra hour), then a new day; every tick against a fresh reference evaluation.
    rng = random.Random(1000 + seed)
    text, counts, instant = _random_case(rng, values)
    config = make_config(text)
    cache = EvaluationCache()
    start = instant.replace(hour=0, minute=0, second=0, microsecond=0)
    offsets = sorted(timedelta(seconds=rng.randrange(86400)) for _ in range(3))
    instants = [start + o for o in offsets]
    instants += [start + timedelta(days=1, microseconds=-1), start + timedelta(days=1, hours=1)]
    for at in instants:
        assert evaluate_goals_fast(config, counts, at, cache) == evaluate_goals(config, counts, at)


def test_cached_cache_follow_new_counts_and_a_new_day() -> None:
    text, counts, instant = _random_case(random.Random(99))
    config = make_config(text)
    cache = EvaluationCache()
    assert evaluate_goals_fast(config, counts, instant, cache) == evaluate_goals(config, counts, instant)
    assert len(cache) > 5
    later = instant + timedelta(minutes=7)  # only time moved: the estimates are reused
    assert evaluate_goals_fast(config, counts, later, cache) == evaluate_goals(config, counts, later)
    # A re-read replaces a key's mapping: goals reading it must not keep the old estimate.
    emails = ("lemlist", "emails_sent")
    fresh = {**counts, emails: {s: {d: c * 3 + 1 for d, c in days.items()} for s, days in counts[emails].items()}}
    want = evaluate_goals(config, fresh, later)
    assert want != evaluate_goals(config, counts, later)
    assert evaluate_goals_fast(config, fresh, later, cache) == want
    tomorrow = later + timedelta(days=1)
    assert evaluate_goals_fast(config, fresh, tomorrow, cache) == evaluate_goals(config, fresh, tomorrow)


def test_goals_sharing_figures_differ_where_their_inputs_do() -> None:
    # Four owners with the same counts and target: figures are shared per equal inputs at an
    # instant, so tolerance and direction must still tell their goals apart, as in the reference.
    people = "\n".join(f"  p{i}: {{team: t0, identities: {{lemlist: p{i}@acme.io}}}}" for i in range(4))
    text = (
        "teams: {t0: {}}\npeople:\n" + people + "\n"
        'sources:\n  lemlist: {connector: lemlist, api_key: "${LEMLIST_API_KEY}"}\n'
        "kpis:\n  emails: {source: lemlist, metric: emails_sent, per_person: true}\n"
        "  levels: {source: lemlist, metric: emails_sent, kind: stock, per_person: true}\n"
        "goals:\n"
        "  - {kpi: emails, owner: p0, period: month, target: 300}\n"
        "  - {kpi: emails, owner: p1, period: month, target: 300, tolerance: 0}\n"
        "  - {kpi: emails, owner: p2, period: month, target: 300, tolerance: 0.25}\n"
        "  - {kpi: emails, owner: p3, period: month, target: 300, pacing: business_days}\n"
        "  - {kpi: levels, owner: p0, period: month, target: 300}\n"
        "  - {kpi: levels, owner: p1, period: month, target: 300, direction: at_most}\n"
    )
    config = make_config(text)
    days = {date(2026, 11, 1) + timedelta(days=n): 9.0 for n in range(15)}
    counts = {("lemlist", "emails_sent"): {f"p{i}@acme.io": dict(days) for i in range(4)}}
    cache = EvaluationCache()
    for hour in (0, 9, 23):
        at = datetime(2026, 11, 15, hour, tzinfo=UTC)
        fast = evaluate_goals_fast(config, counts, at, cache)
        assert fast == evaluate_goals(config, counts, at)
    # 135 of 300 at E(t) = 14.96 / 30 (expected 149.6): pace 0.90 and a bit, behind only at tolerance 0
    assert [status.status for status in fast[:3]] == ["on_pace", "behind", "on_pace"]
    assert fast[0].figures.pace_ratio == fast[1].figures.pace_ratio
    assert fast[4].figures != fast[5].figures  # at_most: the same level is judged the other way


def test_new_counts_for_one_subject_redo_only_its_owners_goals(monkeypatch: pytest.MonkeyPatch) -> None:
    # The daemon's cache re-reads a push's days as a new KPI mapping in which only the pushed
    # subjects' day maps are new objects: only their owners' goals may be worked out again.
    from syncd.engine import fast_evaluate

    text, counts, instant = _random_case(random.Random(7), WHOLE)
    config = make_config(text)
    cache = EvaluationCache()
    evaluate_goals_fast(config, counts, instant, cache)
    made: list[str] = []
    real = fast_evaluate.Evaluator._goal_day

    def counting(self: fast_evaluate.Evaluator, goal: object, kpi: object, owner: object) -> object:
        made.append(f"{goal.kpi}/{goal.owner}")  # type: ignore[attr-defined]
        return real(self, goal, kpi, owner)  # type: ignore[arg-type]

    monkeypatch.setattr(fast_evaluate.Evaluator, "_goal_day", counting)
    emails = ("lemlist", "emails_sent")
    fresh = {**counts, emails: dict(counts[emails])}
    fresh[emails]["p2@acme.io"] = {**counts[emails]["p2@acme.io"], instant.date(): 5.0}
    later = instant + timedelta(minutes=3)
    assert evaluate_goals_fast(config, fresh, later, cache) == evaluate_goals(config, fresh, later)
    # p2's per-person goals on lemlist, its team's (t0), and the KPIs summing every subject.
    reading = set(made)
    assert reading, "the pushed subject's goals were not worked out again"
    others = [g for g in config.goals if g.kpi in ("emails", "both", "levels") and g.owner not in ("p2", "t0")]
    assert others, "the case has goals of other owners on the pushed KPI"
    assert not {f"{g.kpi}/{g.owner}" for g in others} & reading
    assert all(g.split("/")[0] in ("emails", "both", "levels") for g in reading)
