"""The Kubernetes manifests: built the way kustomize builds them, validated against the schemas.

No kustomize binary is at hand, so `build` below does the part of `kustomize build` this
kustomization uses (and fails on any field it does not know, so it cannot silently drift).
Built-in kinds are validated with kubernetes-validate against Kubernetes' own JSON schemas; the
Prometheus Operator's kinds by their fields, the PrometheusRule's rules by promtool.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from aiohttp import web

from syncd.config import load_config
from syncd.engine.snapshot import Snapshot, SnapshotHolder
from syncd.serve.web import WebState, build_app
from syncd.serve.web_config import load_web_config
from tests.deploy.stack import DEPLOY, RULES, require_binary

KUSTOMIZE = DEPLOY / "kubernetes"
KUBERNETES_VERSION = "1.30"
SUPPORTED_KEYS = {"apiVersion", "kind", "namespace", "resources", "configMapGenerator", "images"}


def config_map_hash(data: dict[str, str]) -> str:
    # Any stable content hash serves the purpose (a config change renames the ConfigMap).
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:10]


def build() -> list[dict[str, Any]]:
    """Return the resources `kustomize build deploy/kubernetes` would emit (for the fields used)."""
    kustomization = yaml.safe_load((KUSTOMIZE / "kustomization.yaml").read_text())
    assert set(kustomization) <= SUPPORTED_KEYS, set(kustomization) - SUPPORTED_KEYS
    resources = [
        doc
        for name in kustomization["resources"]
        for doc in yaml.safe_load_all((KUSTOMIZE / name).read_text())
        if doc is not None
    ]
    renames: dict[str, str] = {}
    for generator in kustomization.get("configMapGenerator", []):
        data = {Path(f).name: (KUSTOMIZE / f).read_text() for f in generator["files"]}
        name = f"{generator['name']}-{config_map_hash(data)}"
        renames[generator["name"]] = name
        resources.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
    images = {i["name"]: f"{i['newName']}:{i['newTag']}" for i in kustomization.get("images", [])}
    for resource in resources:
        if resource["kind"] != "Namespace":
            resource["metadata"]["namespace"] = kustomization["namespace"]
        if resource["kind"] == "Deployment":
            pod = resource["spec"]["template"]["spec"]
            for container in pod["containers"]:
                container["image"] = images.get(container["image"], container["image"])
            for volume in pod["volumes"]:
                if "configMap" in volume:
                    volume["configMap"]["name"] = renames.get(volume["configMap"]["name"], volume["configMap"]["name"])
    return resources


def by_kind(kind: str) -> dict[str, Any]:
    (resource,) = [r for r in build() if r["kind"] == kind]
    return resource


def test_every_built_in_resource_is_valid_against_the_kubernetes_schemas() -> None:
    built_in = [r for r in build() if not r["apiVersion"].startswith("monitoring.coreos.com/")]
    assert {r["kind"] for r in built_in} == {
        "Namespace",
        "Secret",
        "Deployment",
        "PodDisruptionBudget",
        "Service",
        "ConfigMap",
    }
    for resource in built_in:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def test_an_invalid_resource_is_rejected() -> None:
    deployment = by_kind("Deployment")
    deployment["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_deployment_is_locked_down_and_probed() -> None:
    deployment = by_kind("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the Dockerfile's user
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["image"] == "ghcr.io/syncd/syncd:0.1.0"
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    # The writable paths of a read-only root filesystem.
    assert {"/etc/syncd", "/var/lib/syncd", "/tmp"} <= mounts  # noqa: S108 - paths in the pod


def test_two_replicas_share_the_work_and_a_disruption_budget_keeps_one_up() -> None:
    deployment, budget = by_kind("Deployment"), by_kind("PodDisruptionBudget")
    assert deployment["spec"]["replicas"] == 2
    # A rollout never takes both down; leases make old and new pods safe side by side.
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert budget["spec"]["minAvailable"] == 1
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()


async def test_the_shipped_probes_pass_with_basic_auth_on(tmp_path: Path) -> None:
    # Serve the real app with basic auth on and call each probe exactly as the kubelet would:
    # its path, its headers (none are shipped), no credentials.
    hashed = bcrypt.hashpw(b"s3cret-pass", bcrypt.gensalt(rounds=4)).decode()
    web_file = tmp_path / "web.yml"
    web_file.write_text(f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    holder = SnapshotHolder(Snapshot(generated_at=datetime(2026, 11, 23, tzinfo=UTC), ready=True))

    async def storage_ok() -> bool:
        return True

    state = WebState(holder=holder, readiness=storage_ok, web_config=load_web_config(str(web_file)))
    (container,) = by_kind("Deployment")["spec"]["template"]["spec"]["containers"]
    probes = [container[name]["httpGet"] for name in ("startupProbe", "livenessProbe", "readinessProbe")]
    runner = web.AppRunner(build_app(state), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for probe in probes:
                headers = {h["name"]: h["value"] for h in probe.get("httpHeaders", [])}
                assert (await client.get(probe["path"], headers=headers)).status_code == 200, probe
            assert (await client.get("/metrics")).status_code == 401  # the rest stays closed
    finally:
        await runner.cleanup()


def test_names_line_up_across_resources() -> None:
    resources = build()
    deployment, service = by_kind("Deployment"), by_kind("Service")
    pod = deployment["spec"]["template"]
    config_map = next(r for r in resources if r["kind"] == "ConfigMap")
    secret = by_kind("Secret")
    assert pod["spec"]["volumes"][0]["configMap"]["name"] == config_map["metadata"]["name"]
    assert pod["spec"]["containers"][0]["envFrom"][0]["secretRef"]["name"] == secret["metadata"]["name"]
    labels = pod["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    port_names = {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
    assert service["spec"]["ports"][0]["targetPort"] in port_names
    monitor = by_kind("ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert {r["metadata"].get("namespace") for r in resources if r["kind"] != "Namespace"} == {"syncd"}


def test_the_config_map_holds_a_configuration_syncd_loads() -> None:
    text = (KUSTOMIZE / "syncd.yaml").read_text()
    environ = {
        "SYNCD_DATABASE_URL": "postgresql+psycopg://syncd:x@db:5432/syncd",
        "LEMLIST_API_KEY": "k1",
        "KIT_API_KEY": "k2",
    }
    config = load_config(KUSTOMIZE / "syncd.yaml", environ=environ)
    assert (config.listen_host, config.listen_port) == ("0.0.0.0", 9464)  # noqa: S104 - a pod listens on all
    assert config.database_url == environ["SYNCD_DATABASE_URL"]
    secret_keys = set(by_kind("Secret")["stringData"])
    assert {"SYNCD_DATABASE_URL", "LEMLIST_API_KEY", "KIT_API_KEY"} <= secret_keys
    assert "change-me" not in text


def load_renderer() -> Any:
    spec = importlib.util.spec_from_file_location("render_prometheusrule", KUSTOMIZE / "render_prometheusrule.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prometheusrule_is_rendered_from_the_rules_file() -> None:
    committed = (KUSTOMIZE / "prometheusrule.yaml").read_text()
    assert committed == load_renderer().render(RULES.read_text()), (
        "run: python deploy/kubernetes/render_prometheusrule.py"
    )
    rule = by_kind("PrometheusRule")
    assert rule["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]


def test_promtool_accepts_the_prometheusrule_groups(tmp_path: Path) -> None:
    groups = tmp_path / "groups.yml"
    groups.write_text(yaml.safe_dump({"groups": by_kind("PrometheusRule")["spec"]["groups"]}))
    result = subprocess.run(
        [require_binary("promtool"), "check", "rules", str(groups)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
