"""The Grafana dashboards: well-formed, provisioned, and every query answered by a real Prometheus.

The live test runs the configuration deploy/compose.yaml runs (deploy/config/syncd.yaml: the demo
team, with a funnel) against the sandbox's generated activity, as compose does, with a real
Prometheus loading the shipped rules, then evaluates every panel's and every variable's query.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from syncd.sandbox import DEMO_KIT_API_KEY, DEMO_LEMLIST_API_KEY
from syncd.serve import metrics as m
from syncd.serve.metrics_doc import exposed_name, labels_of
from tests.deploy.stack import (
    DEPLOY,
    RULES,
    Stack,
    free_port,
    prometheus_query,
    require_binary,
    start_prometheus,
    start_sandbox,
    start_syncd,
    wait_until,
)
from tests.fakes import promtool_metric_lints

GRAFANA = DEPLOY / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
VARIABLE = re.compile(r"\$\{?(\w+)\}?")


def load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


def targets(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """Return (panel title, expr) for every query of every panel."""
    return [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p["targets"]]


def variable_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """Return (variable name, PromQL) for every query variable: label_values(m, l) -> group by (l) (m)."""
    out = []
    for v in dashboard["templating"]["list"]:
        if v["type"] == "query":
            m = re.fullmatch(r"label_values\((.+), (\w+)\)", v["query"]["query"])
            assert m, v["query"]
            out.append((v["name"], f"group by ({m[2]}) ({m[1]})"))
    return out


def concrete(expr: str) -> str:
    """Replace Grafana's variables the way 'All' does: every multi-value variable matches anything."""
    expr = expr.replace("$__rate_interval", "1m")
    return VARIABLE.sub(".*", expr)


def test_the_four_dashboards_are_shipped() -> None:
    titles = {load(p)["title"] for p in DASHBOARDS}
    assert titles == {"syncd / Team pace", "syncd / Person", "syncd / Funnel", "syncd / Source health"}
    assert len({load(p)["uid"] for p in DASHBOARDS}) == 4


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_is_well_formed(path: Path) -> None:
    dashboard = load(path)
    defined = {v["name"] for v in dashboard["templating"]["list"]}
    assert "datasource" in defined
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        assert panel.get("description"), f"{panel['title']}: say what the panel shows"
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs))
    for _, expr in targets(dashboard):
        used = set(VARIABLE.findall(expr)) - {"__rate_interval"}
        assert used <= defined, f"{expr} uses undefined variables {used - defined}"
        # Only syncd's own series and recording rules: dashboards must not depend on anything else.
        names = set(re.findall(r"\b([a-z_]+:[a-z_0-9]+:[a-z_0-9]+|syncd_[a-z_]+)\b", expr))
        assert names, expr


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_no_panel_double_counts_with_two_replicas(path: Path) -> None:
    # Every replica serves every gauge (docs/deploy.md): a bare gauge would draw one line per replica,
    # and a ratio of two bare gauges would fail to match. Counters are summed, which is right.
    for title, expr in targets(load(path)):
        for found in re.finditer(r"(?<![\w:])(syncd_[a-z_]+)", expr):
            name, before = found.group(1), expr[: found.start()].rstrip()
            if name.endswith(("_total", "_bucket")):
                continue
            assert before.endswith(
                ("max without (instance, pod) (", "max by (funnel, from_step, to_step, benchmark_owner) (")
            ), f"{path.name}: {title}: {name} is not aggregated across replicas in {expr}"


def test_provisioning_points_at_the_dashboards_and_the_data_source() -> None:
    datasources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uids = {d["uid"] for d in datasources["datasources"]}
    for path in DASHBOARDS:
        ds = next(v for v in load(path)["templating"]["list"] if v["name"] == "datasource")
        assert ds["current"]["value"] in uids
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "syncd.yml").read_text())
    (provider,) = providers["providers"]
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in mounts


def check_exposition(exposed: str) -> None:
    """Lint the exposition with promtool and check its labels against docs/metrics.md's source."""
    lint = subprocess.run(
        [require_binary("promtool"), "check", "metrics"],
        input=exposed,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    # promtool exits 3 for lint findings only; anything else (a parse error) is a failure.
    assert lint.returncode in (0, 3), lint.stdout + lint.stderr
    assert promtool_metric_lints(lint.stdout + lint.stderr) == []
    documented = {exposed_name(name): labels_of(name) for name in m.HELP}
    seen = set()
    for family in text_string_to_metric_families(exposed):
        for sample in family.samples:
            name = sample.name
            if name not in documented:  # a histogram's series
                name = re.sub(r"_(bucket|sum|count)$", "", name)
            assert name in documented, sample.name
            assert set(sample.labels) - {"le"} == set(documented[name]), sample
            seen.add(name)
    # Every documented metric is exposed, but failures (none happen here), the member sources of
    # KPIs over several sources (this configuration has none), personal goals, and the last check-in
    # results (judged on the evaluation tick after the first syncs, later than this first exposition).
    optional = {
        "syncd_source_sync_failures_total",
        "syncd_kpi_source_info",
        "syncd_personal_goal_info",
        "syncd_checkpoint_last_hit",
    }
    assert set(documented) - seen <= optional


def compose_config(listen: str, database: str) -> dict[str, Any]:
    """Return deploy/config/syncd.yaml with a test's listen address, database and short intervals."""
    config: dict[str, Any] = yaml.safe_load((DEPLOY / "config" / "syncd.yaml").read_text(encoding="utf-8"))
    config["listen"], config["database_url"] = listen, database
    for source in config["sources"].values():
        source["interval"] = "2s"
    return config


@pytest.mark.e2e
def test_every_panel_query_returns_data_from_a_prometheus_scraping_syncd(stack: Stack) -> None:
    sandbox = start_sandbox(stack)
    listen = f"127.0.0.1:{free_port()}"
    env = {
        "LEMLIST_BASE_URL": sandbox["lemlist_url"],
        "KIT_BASE_URL": sandbox["kit_url"],
        "LEMLIST_API_KEY": DEMO_LEMLIST_API_KEY,
        "KIT_API_KEY": DEMO_KIT_API_KEY,
    }
    syncd = start_syncd(stack, compose_config(listen, f"sqlite:///{stack.tmp / 'syncd.db'}"), env)
    prometheus = start_prometheus(stack, targets=[listen], rules=RULES)

    queries = [
        (f"{path.name}: {title}", concrete(expr))
        for path in DASHBOARDS
        for title, expr in [*targets(load(path)), *variable_queries(load(path))]
    ]

    def unanswered() -> list[str]:
        missing = []
        for where, expr in queries:
            values = [float(r["value"][1]) for r in prometheus_query(prometheus, expr)]
            if not any(math.isfinite(v) for v in values):
                missing.append(f"{where}: {expr}")
        return missing

    def full_exposition() -> str | None:
        text = httpx.get(f"{syncd}/metrics").text
        return text if "syncd_funnel_benchmark_ratio{" in text else None

    exposed = wait_until(full_exposition, timeout=30, what="a full exposition from syncd")
    check_exposition(exposed)
    # Rates need a few scrapes and every source a few syncs: poll until every query has a number.
    try:
        wait_until(lambda: not unanswered(), timeout=60, what="data for every dashboard query")
    except AssertionError:
        pytest.fail("queries without data:\n" + "\n".join(unanswered()) + "\n" + stack.logs())
