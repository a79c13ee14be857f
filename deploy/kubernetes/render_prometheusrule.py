"""Render prometheusrule.yaml from deploy/prometheus/syncd-alerts.yml: one rules file, two packagings.

Run `python deploy/kubernetes/render_prometheusrule.py` after editing the rules; a test fails while
the committed file differs from what this renders.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
RULES = HERE.parent / "prometheus" / "syncd-alerts.yml"
OUTPUT = HERE / "prometheusrule.yaml"

HEADER = (
    "# Generated from deploy/prometheus/syncd-alerts.yml by render_prometheusrule.py: do not edit.\n"
    "# The `release` label is what a kube-prometheus-stack Prometheus selects by default.\n"
)


def render(rules_text: str) -> str:
    """Return the PrometheusRule manifest wrapping the rule groups of `rules_text`."""
    groups = yaml.safe_load(rules_text)["groups"]
    manifest = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "syncd",
            "labels": {"app.kubernetes.io/name": "syncd", "release": "kube-prometheus-stack"},
        },
        "spec": {"groups": groups},
    }
    return HEADER + yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True, width=100)


def main() -> int:
    """Write prometheusrule.yaml next to this script."""
    OUTPUT.write_text(render(RULES.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
