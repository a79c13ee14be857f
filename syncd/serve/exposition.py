"""The Prometheus collector: metric families built fresh from the current snapshot on each scrape.

No global Gauges: a goal removed from the configuration disappears with the next snapshot,
and a scrape never queries the database (STYLE habit 2).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from syncd.engine.snapshot import FUNNEL_SCENARIOS, STATUSES, GoalStatus, Snapshot, SnapshotHolder
from syncd.model import SOURCE_JOIN
from syncd.serve import metrics as m
from syncd.serve.checkin_view import last_results
from syncd.version import VERSION

__all__ = [
    "SnapshotCollector",
    "bucket_le",
    "build_registry",
    "families_after_sources",
    "families_before_sources",
    "non_goal_families",
]


def _gauge(name: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, m.HELP[name], labels=(*m.GOAL_LABELS, *m.EXTRA_LABELS.get(name, ())))


def _goal_labels(goal: GoalStatus) -> list[str]:
    return [goal.kpi, goal.source, goal.owner, goal.team, goal.period]


class SnapshotCollector(Collector):
    """Render the holder's current snapshot as metric families."""

    def __init__(self, holder: SnapshotHolder) -> None:
        self.holder = holder

    def collect(self) -> Iterator[Metric]:
        snapshot = self.holder.current  # one read: every family comes from the same snapshot
        yield from self._goal_families(snapshot.goals)
        yield from non_goal_families(snapshot)

    def _goal_families(self, goals: tuple[GoalStatus, ...]) -> Iterator[Metric]:
        value, target, committed = _gauge(m.GOAL_VALUE), _gauge(m.GOAL_TARGET), _gauge(m.GOAL_COMMITTED)
        expected, pace, progress = (
            _gauge(m.GOAL_EXPECTED),
            _gauge(m.GOAL_PACE_RATIO),
            _gauge(m.GOAL_PROGRESS_RATIO),
        )
        elapsed, projected = _gauge(m.GOAL_ELAPSED_RATIO), _gauge(m.GOAL_PROJECTED)
        required, buffer = _gauge(m.GOAL_REQUIRED_DAILY_RATE), _gauge(m.GOAL_BUFFER_WORKDAYS)
        probability, status = _gauge(m.GOAL_HIT_PROBABILITY), _gauge(m.GOAL_STATUS)
        start, deadline = _gauge(m.GOAL_START), _gauge(m.GOAL_DEADLINE)
        complete = _gauge(m.GOAL_DATA_COMPLETE)
        cp_target = _gauge(m.CHECKPOINT_TARGET)
        cp_value = _gauge(m.CHECKPOINT_VALUE)
        for goal in goals:
            labels = _goal_labels(goal)
            f = goal.figures
            value.add_metric(labels, goal.value)
            target.add_metric(labels, goal.target)
            if goal.committed is not None:
                committed.add_metric(labels, goal.committed)
            expected.add_metric(labels, f.expected)
            pace.add_metric(labels, f.pace_ratio)
            progress.add_metric(labels, f.progress_ratio)
            elapsed.add_metric(labels, f.elapsed_ratio)
            projected.add_metric(labels, f.projected)
            required.add_metric(labels, f.required_daily_rate)
            buffer.add_metric(labels, f.buffer_days)
            if goal.hit_probability is not None:
                probability.add_metric(labels, goal.hit_probability)
            for name in STATUSES:
                status.add_metric([*labels, name], 1.0 if f.status == name else 0.0)
            start.add_metric(labels, goal.start.timestamp())
            deadline.add_metric(labels, goal.deadline.timestamp())
            complete.add_metric(labels, 1.0 if goal.data_complete else 0.0)
            for checkpoint in goal.checkpoints:
                cp_target.add_metric([*labels, checkpoint.id, checkpoint.level], checkpoint.target)
                cp_value.add_metric([*labels, checkpoint.id, checkpoint.level], checkpoint.value)
        yield from (value, target, committed, expected, pace, progress, elapsed, projected)
        yield from (required, buffer, probability, status, start, deadline, cp_target, cp_value, complete)

    def _funnel_families(self, snapshot: Snapshot) -> Iterator[Metric]:
        conversion = GaugeMetricFamily(
            m.FUNNEL_CONVERSION_RATIO, m.HELP[m.FUNNEL_CONVERSION_RATIO], labels=m.FUNNEL_LABELS
        )
        benchmark = GaugeMetricFamily(
            m.FUNNEL_BENCHMARK_RATIO,
            m.HELP[m.FUNNEL_BENCHMARK_RATIO],
            labels=(*m.FUNNEL_LABELS, *m.EXTRA_LABELS[m.FUNNEL_BENCHMARK_RATIO]),
        )
        for stage in snapshot.funnels:
            labels = [stage.funnel, stage.from_step, stage.to_step, stage.owner, stage.team, stage.period]
            if stage.ratio is not None:
                conversion.add_metric(labels, stage.ratio)
            if stage.benchmark_ratio is not None and stage.benchmark_owner is not None:
                benchmark.add_metric([*labels, stage.benchmark_owner], stage.benchmark_ratio)
        yield conversion
        yield benchmark
        outcome = GaugeMetricFamily(m.FUNNEL_OUTCOME, m.HELP[m.FUNNEL_OUTCOME], labels=m.FUNNEL_OUTCOME_LABELS)
        for row in snapshot.funnel_outcomes:
            for scenario in FUNNEL_SCENARIOS:
                labels = [row.funnel, row.owner, row.team, row.period, row.domino, scenario]
                outcome.add_metric(labels, row.scenario(scenario))
        yield outcome

    def _source_families(self, snapshot: Snapshot) -> Iterator[Metric]:
        labels = m.SOURCE_LABELS
        up = GaugeMetricFamily(m.SOURCE_UP, m.HELP[m.SOURCE_UP], labels=labels)
        last = GaugeMetricFamily(m.SOURCE_LAST_SUCCESS, m.HELP[m.SOURCE_LAST_SUCCESS], labels=labels)
        interval = GaugeMetricFamily(m.SOURCE_INTERVAL, m.HELP[m.SOURCE_INTERVAL], labels=labels)
        duration = HistogramMetricFamily(m.SOURCE_SYNC_DURATION, m.HELP[m.SOURCE_SYNC_DURATION], labels=labels)
        syncs = CounterMetricFamily(m.SOURCE_SYNCS, m.HELP[m.SOURCE_SYNCS], labels=labels)
        failures = CounterMetricFamily(
            m.SOURCE_SYNC_FAILURES,
            m.HELP[m.SOURCE_SYNC_FAILURES],
            labels=(*labels, *m.EXTRA_LABELS[m.SOURCE_SYNC_FAILURES]),
        )
        requests = CounterMetricFamily(
            m.SOURCE_HTTP_REQUESTS,
            m.HELP[m.SOURCE_HTTP_REQUESTS],
            labels=(*labels, *m.EXTRA_LABELS[m.SOURCE_HTTP_REQUESTS]),
        )
        remaining = GaugeMetricFamily(
            m.SOURCE_RATE_LIMIT_REMAINING, m.HELP[m.SOURCE_RATE_LIMIT_REMAINING], labels=labels
        )
        suspect = CounterMetricFamily(m.SOURCE_SUSPECT_READS, m.HELP[m.SOURCE_SUSPECT_READS], labels=labels)
        backfill = GaugeMetricFamily(
            m.SOURCE_BACKFILL_REMAINING_DAYS, m.HELP[m.SOURCE_BACKFILL_REMAINING_DAYS], labels=labels
        )
        for source in snapshot.sources:
            key = [source.name, source.connector]
            suspect.add_metric(key, source.suspect_reads_total)
            up.add_metric(key, 1.0 if source.up else 0.0)
            if source.last_success is not None:
                last.add_metric(key, source.last_success.timestamp())
            if source.interval_seconds is not None:
                interval.add_metric(key, source.interval_seconds)
            buckets = [(bucket_le(bound), count) for bound, count in source.duration_buckets]
            if buckets:
                duration.add_metric(key, buckets, source.duration_sum)
            syncs.add_metric(key, source.syncs_total)
            for reason, count in sorted(source.failures.items()):
                failures.add_metric([*key, reason], count)
            for code, count in sorted(source.http_requests.items()):
                requests.add_metric([*key, code], count)
            if source.rate_limit_remaining is not None:
                remaining.add_metric(key, source.rate_limit_remaining)
            backfill.add_metric(key, snapshot.backfill_remaining_days.get(source.name, 0))
        yield from (up, last, interval, duration, syncs, failures, requests, remaining, suspect, backfill)


def last_hit_family(snapshot: Snapshot) -> Metric:
    """Return each goal's last closed check-in per level: 1 hit, 0 missed (incomplete ones are left out)."""
    family = _gauge(m.CHECKPOINT_LAST_HIT)
    for goal, result in last_results(snapshot):
        if result.outcome != "incomplete":
            family.add_metric([*_goal_labels(goal), result.checkpoint, result.level], float(result.outcome == "hit"))
    return family


def non_goal_families(snapshot: Snapshot) -> Iterator[Metric]:
    """Yield every family but the goals', in exposition order."""
    yield from families_before_sources(snapshot)
    yield from SnapshotCollector(SnapshotHolder(snapshot))._source_families(snapshot)
    yield from families_after_sources(snapshot)


def families_before_sources(snapshot: Snapshot) -> Iterator[Metric]:
    """Yield the families between the goals' and the sources' (syncd.serve.render draws those two)."""
    yield last_hit_family(snapshot)
    yield from SnapshotCollector(SnapshotHolder(snapshot))._funnel_families(snapshot)


def families_after_sources(snapshot: Snapshot) -> Iterator[Metric]:
    """Yield the families after the sources', to the end of the exposition."""
    yield _kpi_source_family(snapshot.goals)
    personal = GaugeMetricFamily(m.PERSONAL_GOAL_INFO, m.HELP[m.PERSONAL_GOAL_INFO], labels=m.PERSONAL_GOAL_LABELS)
    for own in snapshot.personal_goals:
        personal.add_metric([own.owner, own.team, own.text, own.by, ",".join(own.kpis)], 1.0)
    yield personal
    yield from _reload_families(snapshot)
    yield _retention_family(snapshot)
    build = InfoMetricFamily(m.BUILD_INFO.removesuffix("_info"), m.HELP[m.BUILD_INFO])
    build.add_metric([], {"version": VERSION})
    yield build


def _kpi_source_family(goals: tuple[GoalStatus, ...]) -> Metric:
    """Map each joined `source` label of the goals to its member sources."""
    family = GaugeMetricFamily(m.KPI_SOURCE_INFO, m.HELP[m.KPI_SOURCE_INFO], labels=m.KPI_SOURCE_LABELS)
    for joined in sorted({goal.source for goal in goals if SOURCE_JOIN in goal.source}):
        for member in joined.split(SOURCE_JOIN):
            family.add_metric([joined, member], 1.0)
    return family


def _reload_families(snapshot: Snapshot) -> Iterator[Metric]:
    """The last reload's outcome, once the daemon has loaded a configuration."""
    reload = snapshot.config_reload
    if reload is None:
        return
    ok = GaugeMetricFamily(m.CONFIG_LAST_RELOAD_SUCCESSFUL, m.HELP[m.CONFIG_LAST_RELOAD_SUCCESSFUL])
    ok.add_metric([], 1.0 if reload.successful else 0.0)
    at = GaugeMetricFamily(m.CONFIG_LAST_RELOAD_SUCCESS, m.HELP[m.CONFIG_LAST_RELOAD_SUCCESS])
    at.add_metric([], reload.last_success.timestamp())
    yield from (ok, at)


def _retention_family(snapshot: Snapshot) -> Metric:
    """Rows the retention job deleted, per table (none until the daemon reports them)."""
    family = CounterMetricFamily(m.RETENTION_PRUNED_ROWS, m.HELP[m.RETENTION_PRUNED_ROWS], labels=m.RETENTION_LABELS)
    for table, rows in sorted(snapshot.pruned_rows.items()):
        family.add_metric([table], float(rows))
    return family


def bucket_le(bound: float) -> str:
    """Return a histogram bucket's `le` label as prometheus-client writes it."""
    return "+Inf" if bound == float("inf") else repr(float(bound))


def build_registry(holder: SnapshotHolder) -> CollectorRegistry:
    """Return a private registry holding only syncd's collector (no process or GC noise)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(holder))
    return registry
