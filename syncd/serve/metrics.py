"""Every metric name syncd exposes, in one place (CONTRACT §5)."""

from __future__ import annotations

__all__ = ["EXTRA_LABELS", "FAILURE_REASONS", "GOAL_LABELS", "HELP"]

GOAL_VALUE = "syncd_goal_value"
GOAL_TARGET = "syncd_goal_target"
GOAL_COMMITTED = "syncd_goal_committed"
GOAL_EXPECTED = "syncd_goal_expected"
GOAL_PACE_RATIO = "syncd_goal_pace_ratio"
GOAL_PROGRESS_RATIO = "syncd_goal_progress_ratio"
GOAL_ELAPSED_RATIO = "syncd_goal_elapsed_ratio"
GOAL_PROJECTED = "syncd_goal_projected"
GOAL_REQUIRED_DAILY_RATE = "syncd_goal_required_daily_rate"
GOAL_BUFFER_WORKDAYS = "syncd_goal_buffer_workdays"
GOAL_HIT_PROBABILITY = "syncd_goal_hit_probability"
GOAL_STATUS = "syncd_goal_status"
GOAL_START = "syncd_goal_start_timestamp_seconds"
GOAL_DEADLINE = "syncd_goal_deadline_timestamp_seconds"
GOAL_DATA_COMPLETE = "syncd_goal_data_complete"
CHECKPOINT_TARGET = "syncd_checkpoint_target"
CHECKPOINT_VALUE = "syncd_checkpoint_value"
CHECKPOINT_LAST_HIT = "syncd_checkpoint_last_hit"
FUNNEL_CONVERSION_RATIO = "syncd_funnel_conversion_ratio"
FUNNEL_BENCHMARK_RATIO = "syncd_funnel_benchmark_ratio"
FUNNEL_OUTCOME = "syncd_funnel_outcome"
SOURCE_UP = "syncd_source_up"
SOURCE_LAST_SUCCESS = "syncd_source_last_success_timestamp_seconds"
SOURCE_INTERVAL = "syncd_source_interval_seconds"
SOURCE_SYNC_DURATION = "syncd_source_sync_duration_seconds"
SOURCE_SYNCS = "syncd_source_syncs"  # prometheus-client appends _total to counters
SOURCE_SYNC_FAILURES = "syncd_source_sync_failures"
SOURCE_HTTP_REQUESTS = "syncd_source_http_requests"
SOURCE_RATE_LIMIT_REMAINING = "syncd_source_rate_limit_remaining"
SOURCE_SUSPECT_READS = "syncd_source_suspect_reads"  # _total appended, as for the other counters
SOURCE_BACKFILL_REMAINING_DAYS = "syncd_source_backfill_remaining_days"
BUILD_INFO = "syncd_build_info"
RETENTION_PRUNED_ROWS = "syncd_retention_pruned_rows"  # _total appended
CONFIG_LAST_RELOAD_SUCCESSFUL = "syncd_config_last_reload_successful"
CONFIG_LAST_RELOAD_SUCCESS = "syncd_config_last_reload_success_timestamp_seconds"
# One series per source of a KPI over several sources, so an alert about one of them can reach
# (and inhibit) the goals labelled with the joined `source` (CONTRACT §7).
KPI_SOURCE_INFO = "syncd_kpi_source_info"
# A person's own goal, so an alert's description can remind them what the number is for.
PERSONAL_GOAL_INFO = "syncd_personal_goal_info"

GOAL_LABELS = ("kpi", "source", "owner", "team", "period")
SOURCE_LABELS = ("source", "connector")
FUNNEL_LABELS = ("funnel", "from_step", "to_step", "owner", "team", "period")
KPI_SOURCE_LABELS = ("source", "member_source")
PERSONAL_GOAL_LABELS = ("owner", "team", "goal", "by", "kpis")
FUNNEL_OUTCOME_LABELS = ("funnel", "owner", "team", "period", "domino", "scenario")
RETENTION_LABELS = ("table",)

# Labels a family adds to its group's common labels above.
EXTRA_LABELS: dict[str, tuple[str, ...]] = {
    GOAL_STATUS: ("status",),
    CHECKPOINT_TARGET: ("checkpoint", "level"),
    CHECKPOINT_VALUE: ("checkpoint", "level"),
    CHECKPOINT_LAST_HIT: ("checkpoint", "level"),
    FUNNEL_BENCHMARK_RATIO: ("benchmark_owner",),
    SOURCE_SYNC_FAILURES: ("reason",),
    SOURCE_HTTP_REQUESTS: ("code",),
}

# Every `reason` a failed sync is counted under: the SourceError subclasses' own, and the
# outcomes syncd.run.sync maps the other failures to.
FAILURE_REASONS = (
    "auth",
    "rate_limited",
    "unavailable",
    "bad_request",
    "bad_response",
    "timeout",
    "storage",
    "config",
    "error",
)

# Goal numbers come from syncs on syncd's own schedule (vendors rate-limit and are slow), not
# from the scrape: said in HELP as the exporter guidelines ask of cached values.
_CACHED = " (computed from the last successful sync of the KPI's source)"

HELP: dict[str, str] = {
    GOAL_VALUE: "Value of the KPI so far this period" + _CACHED,
    GOAL_TARGET: "Target for the period",
    GOAL_COMMITTED: "The owner's own estimate for the period, where set",
    GOAL_EXPECTED: "Value expected by now on the goal's pacing curve" + _CACHED,
    GOAL_PACE_RATIO: "Value divided by expected; 1 when nothing is expected yet",
    GOAL_PROGRESS_RATIO: "Value divided by target",
    GOAL_ELAPSED_RATIO: "Weighted fraction of the period elapsed, E(t)",
    GOAL_PROJECTED: "Projected value at the deadline at the current pace",
    GOAL_REQUIRED_DAILY_RATE: "Value needed per working day from now to the deadline",
    GOAL_BUFFER_WORKDAYS: "Working days ahead (+) or behind (-) the pacing curve",
    GOAL_HIT_PROBABILITY: "Estimated probability of reaching the target by the deadline, 0..1",
    GOAL_STATUS: "1 for the goal's current status, 0 for the others",
    GOAL_START: "Start of the goal's current period, Unix seconds",
    GOAL_DEADLINE: "Deadline of the goal's current period (exclusive), Unix seconds",
    GOAL_DATA_COMPLETE: "0 while the daemon is still backfilling days the goal's period or pacing curve needs, else 1",
    CHECKPOINT_TARGET: (
        "Target of the goal's current check-in at each level: the period target times its share of the"
        " curve's weight; absent while the curve asks nothing of it (a clipped weekend), as it is not judged"
    ),
    CHECKPOINT_VALUE: "Value of the goal's current check-in at each level so far; absent with its target",
    CHECKPOINT_LAST_HIT: (
        "1 when the goal's last closed check-in at the level was hit, 0 when missed;"
        " absent while some of its days were never synced"
    ),
    FUNNEL_CONVERSION_RATIO: "Owner's conversion from one funnel step to the next this period",
    FUNNEL_BENCHMARK_RATIO: "Best owner's conversion for the stage this period",
    FUNNEL_OUTCOME: "The funnel's last step this period: now (scenario=current) and under each what-if",
    SOURCE_UP: "1 when the last sync of the source succeeded",
    SOURCE_LAST_SUCCESS: "Time of the source's last successful sync, Unix seconds",
    SOURCE_INTERVAL: "Configured interval between syncs of the source",
    SOURCE_SYNC_DURATION: "Duration of syncs of the source, in real seconds (on the demo's simulated clock too)",
    SOURCE_SYNCS: "Syncs attempted",
    SOURCE_SYNC_FAILURES: "Syncs failed, by reason",
    SOURCE_HTTP_REQUESTS: "HTTP requests made to the source's vendor, by status code",
    SOURCE_RATE_LIMIT_REMAINING: "Requests left in the vendor's rate-limit window, where it reports it",
    SOURCE_SUSPECT_READS: "Reads that would have lowered stored counts, held until a second read agrees",
    SOURCE_BACKFILL_REMAINING_DAYS: "Days of history the daemon still has to backfill for the source's goals",
    BUILD_INFO: "syncd build information",
    RETENTION_PRUNED_ROWS: "Rows this process's retention job deleted since it started, by table (docs/reliability.md)",
    CONFIG_LAST_RELOAD_SUCCESSFUL: (
        "1 when the last configuration reload applied everything; 0 when it was refused or partial (needs a restart)"
    ),
    CONFIG_LAST_RELOAD_SUCCESS: "Time of the last configuration load that applied everything, Unix seconds",
    PERSONAL_GOAL_INFO: "1 for each personal goal a person set themselves (goal: their words)",
    KPI_SOURCE_INFO: "1 for each source (member_source) of a KPI over several sources (source, as on its goals)",
}
