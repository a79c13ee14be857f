"""docs/metrics.md is generated from syncd/serve/metrics.py and must match it."""

from __future__ import annotations

from syncd.serve import metrics as m
from syncd.serve.metrics_doc import exposed_name, labels_of, metric_type, render
from tests.deploy.stack import ROOT


def test_committed_metrics_doc_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    assert committed == render(), "run: python -m syncd.serve.metrics_doc > docs/metrics.md"


def test_every_metric_name_in_metrics_py_is_documented() -> None:
    names = {v for k, v in vars(m).items() if k.isupper() and isinstance(v, str) and v.startswith("syncd_")}
    assert names == set(m.HELP)
    text = render()
    for name in names:
        assert f"| `{exposed_name(name)}` | {metric_type(name)} |" in text


def test_labels_follow_the_contract() -> None:
    goal = ("kpi", "source", "owner", "team", "period")
    assert labels_of(m.GOAL_VALUE) == goal
    assert labels_of(m.GOAL_STATUS) == (*goal, "status")
    assert labels_of(m.CHECKPOINT_VALUE) == (*goal, "checkpoint", "level")
    assert labels_of(m.CHECKPOINT_LAST_HIT) == (*goal, "checkpoint", "level")
    assert labels_of(m.FUNNEL_BENCHMARK_RATIO) == (
        "funnel",
        "from_step",
        "to_step",
        "owner",
        "team",
        "period",
        "benchmark_owner",
    )
    assert labels_of(m.SOURCE_SYNC_FAILURES) == ("source", "connector", "reason")
    assert exposed_name(m.SOURCE_HTTP_REQUESTS) == "syncd_source_http_requests_total"
    assert labels_of(m.BUILD_INFO) == ("version",)
