"""Render a snapshot in the Prometheus text format, cheaply: the goal families straight from the goals.

prometheus-client's `generate_latest` builds a Sample object per series and formats its labels on
every render: 10,000 goals make ~170,000 series and seconds of work per snapshot. Here each goal's
label set is escaped and sorted once (and kept while the goal's labels stay the same) and every
line is a string join. The output is byte for byte what `generate_latest` makes of
`syncd.serve.exposition.SnapshotCollector` (tests/test_render.py). The source families are drawn
the same way (1,000 sources are 20,000 lines, which cost generate_latest as much as 3,000 goals);
the small families (funnels, build) still go through prometheus-client.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

from syncd.engine.snapshot import STATUSES, GoalStatus, Snapshot, SourceStatus
from syncd.serve import metrics as m
from syncd.serve.exposition import bucket_le, families_after_sources, families_before_sources

__all__ = ["GZIP_LEVEL", "SnapshotRenderer", "gzipped", "render_snapshot"]

# Level 1: a tenth of the text's size already, at a fraction of level 9's cost per scrape.
GZIP_LEVEL = 1
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # zlib writes the gzip header and trailer
# Distinct numbers kept formatted between renders; past this the memo starts afresh (new periods, days).
_NUMBERS_LIMIT = 100_000

# prometheus-client's own float formatting (untyped there), so the numbers read exactly the same.
_go: Callable[[float], str] = floatToGoString

LabelKey = tuple[str, str, str, str, str]  # the goal labels' values, in GOAL_LABELS order


def _escape(value: str) -> str:
    # The text format's label value escaping, as prometheus-client does it.
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    # generate_latest sorts a sample's labels by name.
    return "{" + ",".join(f'{name}="{_escape(value)}"' for name, value in sorted(pairs)) + "}"


def _header(name: str, kind: str = "gauge", help_key: str | None = None) -> str:
    help_text = m.HELP[help_key or name].replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n"


def _counter_header(name: str) -> str:
    # A CounterMetricFamily is exposed as name_total, under the HELP written for `name`.
    return _header(f"{name}_total", "counter", help_key=name)


# The goal labels by name, as generate_latest sorts them: kpi, owner, period, source, team. The
# status label goes before team; a check-in's `checkpoint` goes first and its `level` after kpi
# (tests/test_render.py compares every one with generate_latest's).
_SORTED_GOAL_LABELS = tuple(sorted(m.GOAL_LABELS))
_POSITION = {name: m.GOAL_LABELS.index(name) for name in _SORTED_GOAL_LABELS}
# Lines rendered before they are joined: the line strings of a whole family (50,000 for the status
# family at 10,000 goals) were freed all at once, leaving megabytes of half-used allocator pools behind.
_CHUNK_LINES = 2_000


class _GoalLabels:
    """One goal's label string, escaped and sorted once, kept for 10,000 goals: one string and two cuts.

    The status and check-in label strings are cut and joined from it at each render instead of being
    kept (with the label pairs they were 10 MB of the daemon's memory at 10,000 goals, for a few ms a render).
    """

    __slots__ = ("after_kpi", "before_team", "plain")

    def __init__(self, key: LabelKey) -> None:
        parts = [f'{name}="{_escape(key[_POSITION[name]])}"' for name in _SORTED_GOAL_LABELS]
        self.plain = "{" + ",".join(parts) + "}"
        self.after_kpi = 1 + len(parts[0])  # where `,owner=` starts
        self.before_team = len(self.plain) - 1 - len(parts[-1]) - 1  # where `,team=` starts

    def with_status(self) -> tuple[str, str]:
        """Return the label string's two halves around the status value: `{...,status="` and `",team=...}`."""
        cut = self.before_team
        return f'{self.plain[:cut]},status="', f'"{self.plain[cut:]}'

    def with_checkpoint(self, checkpoint: str, level: str) -> str:
        """Return the label string with the check-in's id and level added."""
        plain, cut = self.plain, self.after_kpi
        return f'{{checkpoint="{_escape(checkpoint)}",{plain[1:cut]},level="{_escape(level)}"{plain[cut:]}'


_Value = Callable[[GoalStatus], float | None]

# The goal families in SnapshotCollector's order, each with how to read its value (None: no series).
_FAMILIES: tuple[tuple[str, _Value], ...] = (
    (m.GOAL_VALUE, lambda g: g.value),
    (m.GOAL_TARGET, lambda g: g.target),
    (m.GOAL_COMMITTED, lambda g: g.committed),
    (m.GOAL_EXPECTED, lambda g: g.figures.expected),
    (m.GOAL_PACE_RATIO, lambda g: g.figures.pace_ratio),
    (m.GOAL_PROGRESS_RATIO, lambda g: g.figures.progress_ratio),
    (m.GOAL_ELAPSED_RATIO, lambda g: g.figures.elapsed_ratio),
    (m.GOAL_PROJECTED, lambda g: g.figures.projected),
    (m.GOAL_REQUIRED_DAILY_RATE, lambda g: g.figures.required_daily_rate),
    (m.GOAL_BUFFER_WORKDAYS, lambda g: g.figures.buffer_days),
    (m.GOAL_HIT_PROBABILITY, lambda g: g.hit_probability),
)
_AFTER_STATUS: tuple[tuple[str, Callable[[GoalStatus], float]], ...] = (
    (m.GOAL_START, lambda g: g.start.timestamp()),
    (m.GOAL_DEADLINE, lambda g: g.deadline.timestamp()),
)


def _data_complete(goal: GoalStatus) -> float:
    return 1.0 if goal.data_complete else 0.0  # formatted "1.0" / "0.0", as generate_latest writes them


class _Families(Collector):
    """Some of a snapshot's small families, for generate_latest."""

    def __init__(self, snapshot: Snapshot, families: Callable[[Snapshot], Iterator[Metric]]) -> None:
        self.snapshot = snapshot
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families(self.snapshot)


def _small_families(snapshot: Snapshot, families: Callable[[Snapshot], Iterator[Metric]]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(snapshot, families))
    return generate_latest(registry)


def source_text(sources: tuple[SourceStatus, ...], backfill_remaining_days: Mapping[str, int]) -> str:
    """Return the source families as generate_latest writes `SnapshotCollector._source_families`."""
    go = _go
    pairs = [(("source", s.name), ("connector", s.connector)) for s in sources]
    plain = [_labels(pair) for pair in pairs]
    rows = list(zip(sources, pairs, plain, strict=True))
    parts = _per_source(m.SOURCE_UP, rows, lambda s: 1.0 if s.up else 0.0)
    parts += _per_source(m.SOURCE_LAST_SUCCESS, rows, _last_success)
    parts += _per_source(m.SOURCE_INTERVAL, rows, lambda s: s.interval_seconds)
    name = m.SOURCE_SYNC_DURATION
    parts.append(_header(name, "histogram"))
    for s, pair, label in rows:
        buckets = [(bucket_le(bound), count) for bound, count in s.duration_buckets]
        if not buckets:
            continue
        parts += [f"{name}_bucket{_labels((*pair, ('le', le)))} {go(count)}\n" for le, count in buckets]
        if float(buckets[0][0]) >= 0:  # as HistogramMetricFamily: no count and sum beside negative buckets
            parts.append(f"{name}_count{label} {go(buckets[-1][1])}\n{name}_sum{label} {go(s.duration_sum)}\n")
    parts.append(_counter_header(m.SOURCE_SYNCS))
    parts += [f"{m.SOURCE_SYNCS}_total{label} {go(s.syncs_total)}\n" for s, _, label in rows]
    by_label: tuple[tuple[str, str, Callable[[SourceStatus], Mapping[str, int]]], ...] = (
        (m.SOURCE_SYNC_FAILURES, "reason", lambda s: s.failures),
        (m.SOURCE_HTTP_REQUESTS, "code", lambda s: s.http_requests),
    )
    for name, extra, read in by_label:
        parts.append(_counter_header(name))
        for s, pair, _ in rows:
            for key, count in sorted(read(s).items()):
                parts.append(f"{name}_total{_labels((*pair, (extra, key)))} {go(count)}\n")
    parts += _per_source(m.SOURCE_RATE_LIMIT_REMAINING, rows, lambda s: s.rate_limit_remaining)
    parts.append(_counter_header(m.SOURCE_SUSPECT_READS))
    parts += [f"{m.SOURCE_SUSPECT_READS}_total{label} {go(s.suspect_reads_total)}\n" for s, _, label in rows]
    parts += _per_source(m.SOURCE_BACKFILL_REMAINING_DAYS, rows, lambda s: backfill_remaining_days.get(s.name, 0))
    return "".join(parts)


_SourceRow = tuple[SourceStatus, tuple[tuple[str, str], ...], str]


def _last_success(source: SourceStatus) -> float | None:
    return None if source.last_success is None else source.last_success.timestamp()


def _per_source(name: str, rows: Iterable[_SourceRow], read: Callable[[SourceStatus], float | None]) -> list[str]:
    """Return a gauge family with one series per source, skipping sources `read` has no value for."""
    lines = [_header(name)]
    for source, _, label in rows:
        value = read(source)
        if value is not None:
            lines.append(f"{name}{label} {_go(value)}\n")
    return lines


class SnapshotRenderer:
    """Render snapshots to exposition bytes, keeping each goal's label strings between renders."""

    def __init__(self) -> None:
        self._labels: dict[LabelKey, _GoalLabels] = {}
        self._numbers: dict[float, str] = {}  # see _number

    def _goal_labels(self, goals: tuple[GoalStatus, ...]) -> list[_GoalLabels]:
        cache = self._labels
        if len(cache) > 2 * len(goals) + 1024:
            cache.clear()  # goals came and went (a reload, a new period): start afresh
        out: list[_GoalLabels] = []
        for goal in goals:
            key = (goal.kpi, goal.source, goal.owner, goal.team, goal.period)
            labels = cache.get(key)
            if labels is None:
                labels = cache[key] = _GoalLabels(key)
            out.append(labels)
        return out

    def render(self, snapshot: Snapshot) -> bytes:
        """Return the whole exposition of `snapshot`, as `generate_latest` would."""
        return b"".join(self._families(snapshot))

    def render_gzip(self, snapshot: Snapshot) -> bytes:
        """Return the exposition gzip-compressed, compressed family by family as it is rendered.

        The uncompressed text (18 MB at 10,000 goals) never exists whole: the peak is one chunk's.
        """
        compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, _GZIP_WBITS)
        out = [compressor.compress(family) for family in self._families(snapshot)]
        out.append(compressor.flush())
        return b"".join(out)

    def _number(self, value: float) -> str:
        """Return `value` as generate_latest writes it, formatted once per distinct value.

        Goals share most numbers (targets, period bounds, small whole counts, pace figures shared per
        equal inputs), and the formatting was the largest part of a render.
        """
        text = _go(value)
        # Not kept: zeros (0.0 and -0.0 are one key but two texts) and NaN (never equal to itself).
        if value == value and value != 0.0:
            if len(self._numbers) >= _NUMBERS_LIMIT:
                self._numbers.clear()
            self._numbers[value] = text
        return text

    def _plain_family(self, name: str, read: _Value, pairs: list[tuple[GoalStatus, _GoalLabels]]) -> Iterator[bytes]:
        """Yield a gauge family with one series per goal on its own labels (none where `read` gives None)."""
        numbers, number = self._numbers, self._number
        yield _header(name).encode()
        for chunk in _chunks(pairs):
            lines = []
            for goal, label in chunk:
                value = read(goal)
                if value is not None:
                    lines.append(f"{name}{label.plain} {numbers.get(value) or number(value)}\n")
            yield "".join(lines).encode()

    def _families(self, snapshot: Snapshot) -> Iterator[bytes]:
        goals = snapshot.goals
        labels = self._goal_labels(goals)
        numbers = self._numbers
        number = self._number
        pairs = list(zip(goals, labels, strict=True))
        for name, read in _FAMILIES:
            yield from self._plain_family(name, read, pairs)
        yield _header(m.GOAL_STATUS).encode()
        for chunk in _chunks(pairs, len(STATUSES)):
            lines = []
            for goal, label in chunk:
                current = goal.figures.status
                before, after = label.with_status()
                for status in STATUSES:
                    lines.append(f"{m.GOAL_STATUS}{before}{status}{after} {'1.0' if status == current else '0.0'}\n")
            yield "".join(lines).encode()
        for name, read_time in _AFTER_STATUS:
            yield from self._plain_family(name, read_time, pairs)
        for name, is_target in ((m.CHECKPOINT_TARGET, True), (m.CHECKPOINT_VALUE, False)):
            yield _header(name).encode()
            for chunk in _chunks(pairs):
                lines = []
                for goal, label in chunk:
                    for checkpoint in goal.checkpoints:
                        value = checkpoint.target if is_target else checkpoint.value
                        text = numbers.get(value) or number(value)
                        lines.append(f"{name}{label.with_checkpoint(checkpoint.id, checkpoint.level)} {text}\n")
                yield "".join(lines).encode()
        yield from self._plain_family(m.GOAL_DATA_COMPLETE, _data_complete, pairs)
        yield _small_families(snapshot, families_before_sources)
        yield source_text(snapshot.sources, snapshot.backfill_remaining_days).encode()
        yield _small_families(snapshot, families_after_sources)


def _chunks(
    pairs: list[tuple[GoalStatus, _GoalLabels]], lines_each: int = 1
) -> Iterator[list[tuple[GoalStatus, _GoalLabels]]]:
    """Yield the goals in slices of about _CHUNK_LINES lines (`lines_each` lines per goal)."""
    step = max(1, _CHUNK_LINES // lines_each)
    for start in range(0, len(pairs), step):
        yield pairs[start : start + step]


def render_snapshot(snapshot: Snapshot) -> bytes:
    """Render one snapshot without keeping label strings for the next."""
    return SnapshotRenderer().render(snapshot)


def gzipped(body: bytes) -> bytes:
    """Return `body` gzip-compressed for a scraper that sent Accept-Encoding: gzip."""
    return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
