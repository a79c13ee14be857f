"""Evaluation of 10,000 goals over a year of daily counts, against a bare loop measured in the same run.

Baseline: a loop that only sums each goal's counts over its period (no pace, no forecast), over
plain dicts; the evaluators read the same counts as the daemon holds them (DayValues). Printed:
the full evaluation (fresh caches) and the three ticks after it where only time moved (caches
kept, 15 s apart), both as ratios; the reference evaluator (`syncd.engine.evaluate`) on a slice,
scaled; growth from 1x to 10x goals.
Each timing is taken REPEATS times (the machine is shared): the minimum and the median are printed,
and ratios are of medians.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta

from bench import _workload as w
from syncd.engine.day_values import DayValues
from syncd.engine.evaluate import counts_needed, evaluate_goals, kpi_counts, owner_subjects, period_at
from syncd.engine.fast_evaluate import EvaluationCache, evaluate_goals_fast
from syncd.model import Config

PEOPLE = 5_000  # two goals each: 10,000 goals
REPEATS = 3


def _timed(action: Callable[[], object]) -> float:
    # The collector first walks what the previous run left (a full evaluation keeps hundreds of
    # thousands of objects); in the daemon that happens long before the next tick, 15 s later, so
    # it is not charged to whichever run comes next.
    gc.collect()
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _runs(action: Callable[[], object]) -> list[float]:
    return [_timed(action) for _ in range(REPEATS)]


def bare_loop(config: Config, counts: w.Counts) -> float:
    """Sum each goal's owner counts over its period: the least any evaluation must do."""
    total = 0.0
    for goal in config.goals:
        kpi = config.kpis[goal.kpi]
        period = period_at(config, goal.period, w.NOW)
        subjects = owner_subjects(config, kpi, goal.owner)
        for subject, days in kpi_counts(kpi, counts).items() if subjects is None else _owned(kpi, counts, subjects):
            del subject
            day: date = period.first_day
            while day <= period.last_day:
                total += days.get(day, 0.0)
                day += timedelta(days=1)
    return total


def _owned(kpi: object, counts: w.Counts, subjects: frozenset[str]) -> list[tuple[str, dict[date, float]]]:
    assert hasattr(kpi, "count_keys")
    return [(s, counts[key][s]) for key in kpi.count_keys for s in subjects if s in counts.get(key, {})]


def measure(people: int) -> dict[str, float]:
    """Return the timings (median, and min as `<name>_min`) for `people` × 2 goals."""
    config, plain = w.config(people), w.counts(people)
    assert counts_needed(config, w.NOW).keys
    runs = {"bare": _runs(lambda: bare_loop(config, plain))}
    # The evaluators read the counts as the daemon holds them (one DayValues per subject); the bare
    # loop sums plain dicts, the cheapest form to iterate in Python.
    counts = {
        key: {subject: DayValues.of(days) for subject, days in by_subject.items()} for key, by_subject in plain.items()
    }
    full: list[float] = []
    tick: list[float] = []
    for _ in range(REPEATS):
        cache = EvaluationCache()
        full.append(_timed(lambda: evaluate_goals_fast(config, counts, w.NOW, cache)))  # noqa: B023 - called at once
        # The ticks that follow, 15 s apart, as the daemon at rest makes them: the first one after a
        # full evaluation costs a third more (pace figures at a first instant) than the next ones.
        for n in (1, 2, 3):
            later = w.NOW + timedelta(seconds=15 * n)
            tick.append(_timed(lambda: evaluate_goals_fast(config, counts, later, cache)))  # noqa: B023 - called at once
    runs["full"], runs["tick"] = full, tick
    # The reference takes ~1 ms a goal: a twentieth of the goals, scaled up, keeps the run short.
    reference_slice = replace(config, goals=config.goals[: max(1, len(config.goals) // 20)])
    share = len(reference_slice.goals) / len(config.goals)
    out: dict[str, float] = {
        "goals": len(config.goals),
        "checkins": sum(1 for goal in config.goals if goal.checkins) / len(config.goals),
        "reference": _timed(lambda: evaluate_goals(reference_slice, counts, w.NOW)) / share,
    }
    for name, times in runs.items():
        out[name] = statistics.median(times)
        out[f"{name}_min"] = min(times)
    return out


def main(people: int = PEOPLE) -> None:
    """Print evaluation costs as ratios to the bare loop and to a full evaluation."""
    small = measure(max(1, people // 10))
    big = measure(people)
    print(
        f"{big['goals']:.0f} goals ({big['checkins']:.0%} with check-ins), a year of counts, "
        f"{REPEATS} runs each (median, min):"
    )
    print(
        f"full evaluation {big['full']:.2f} s, min {big['full_min']:.2f} s = {big['full'] / big['bare']:.1f}x "
        f"the bare summing loop ({big['bare']:.2f} s, min {big['bare_min']:.2f} s; goal <= 0.5 s and <= 5x)"
    )
    print(
        f"tick where only time moved (the 3 after each full one): {big['tick'] * 1000:.0f} ms, "
        f"min {big['tick_min'] * 1000:.0f} ms = "
        f"{big['tick'] / big['full']:.3f}x a full evaluation (goal <= 0.05x)"
    )
    print(
        f"reference evaluator (syncd.engine.evaluate, scaled from a slice): {big['reference']:.2f} s = "
        f"{big['reference'] / big['full']:.1f}x the fast path"
    )
    print(
        f"growth {small['goals']:.0f} -> {big['goals']:.0f} goals: full evaluation "
        f"{big['full'] / small['full']:.1f}x (goal <= 12x), tick {big['tick'] / small['tick']:.1f}x, "
        f"bare loop {big['bare'] / small['bare']:.1f}x"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:2]))
