"""The Dockerfile and compose file. No Docker engine runs here: hadolint lints the Dockerfile, its
pieces are checked by parsing, its HEALTHCHECK command is run for real, and so is SIGTERM on
`syncd run` (what `docker stop` sends)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.deploy.stack import DEPLOY, ROOT, Stack, free_port, require_binary, start_syncd

DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """Return (INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") and not current:
            continue
        current += line.rstrip().removesuffix("\\") + " " if line.rstrip().endswith("\\") else line
        if not line.rstrip().endswith("\\"):
            if current.strip():
                logical.append(current.strip())
            current = ""
    return [(s.split(None, 1)[0].upper(), s.split(None, 1)[1] if " " in s else "") for s in logical]


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


def test_hadolint_passes() -> None:
    binary = require_binary("hadolint", str(Path(sys.executable).with_name("hadolint")))
    result = subprocess.run([binary, str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_slim_and_only_the_venv_is_carried_over() -> None:
    froms = [args for op, args in instructions() if op == "FROM"]
    assert len(froms) == 2
    assert all(" AS " in f for f in froms)
    args = dict(a.split("=", 1) for op, a in instructions() if op == "ARG" and "=" in a)
    assert args["PYTHON_IMAGE"].endswith("-slim-bookworm")
    copies = [a for op, a in final_stage() if op == "COPY"]
    # No configuration baked in: the demo's keys and loopback URLs would be a trap in production.
    assert copies == ["--from=build /opt/syncd /opt/syncd"]


def test_runs_as_a_non_root_user_with_data_on_a_volume() -> None:
    stage = final_stage()
    users = [a for op, a in stage if op == "USER"]
    assert users == ["10001:10001"]
    assert json.loads(next(a for op, a in stage if op == "VOLUME")) == ["/var/lib/syncd"]
    env = " ".join(a for op, a in stage if op == "ENV")
    assert "SYNCD_DATABASE_URL=sqlite:////var/lib/syncd/syncd.db" in env  # the volume, not the image
    assert "PYTHONDONTWRITEBYTECODE=1" in env  # nothing written beside the code: root may be read-only
    assert ("STOPSIGNAL", "SIGTERM") in stage
    assert json.loads(next(a for op, a in stage if op == "ENTRYPOINT")) == ["syncd"]


def healthcheck_command() -> list[str]:
    (args,) = [a for op, a in final_stage() if op == "HEALTHCHECK"]
    options, _, command = args.partition("CMD ")
    assert "--interval=" in options
    assert "--timeout=" in options
    argv: list[str] = json.loads(command)
    return argv


def test_healthcheck_uses_python_on_healthz() -> None:
    argv = healthcheck_command()
    assert argv[0] == "python"
    assert "curl" not in " ".join(argv)
    assert "wget" not in " ".join(argv)
    assert "9464/healthz" not in argv[-1], "the port comes from SYNCD_LISTEN"
    assert "SYNCD_LISTEN" in argv[-1]


class _Healthz(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


def test_healthcheck_command_passes_on_a_live_server_and_fails_without_one() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Healthz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    argv = healthcheck_command()
    # The image's python is the venv's; here, the test's.
    run = [sys.executable, *argv[1:]]
    try:
        env = {**os.environ, "SYNCD_LISTEN": f"0.0.0.0:{port}"}
        assert subprocess.run(run, timeout=10, check=False, env=env).returncode == 0
    finally:
        server.shutdown()
        server.server_close()
    closed_env = {**os.environ, "SYNCD_LISTEN": f"0.0.0.0:{free_port()}"}
    assert subprocess.run(run, timeout=10, capture_output=True, check=False, env=closed_env).returncode != 0


@pytest.mark.e2e
def test_syncd_run_stops_cleanly_on_sigterm(stack: Stack) -> None:
    listen = f"127.0.0.1:{free_port()}"
    config = {
        "database_url": f"sqlite:///{stack.tmp / 'syncd.db'}",
        "listen": listen,
        "people": {"alice": {"identities": {"lemlist": "alice@acme.io"}}},
        "sources": {
            "lemlist": {
                "connector": "lemlist",
                "api_key": "k",
                "base_url": f"http://127.0.0.1:{free_port()}/api",
                "interval": "1m",
            }
        },
    }
    base = start_syncd(stack, config, {})
    assert httpx.get(f"{base}/healthz").status_code == 200
    process = stack.processes[-1].proc
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0, stack.logs()


def test_dockerignore_lets_in_exactly_what_the_build_copies() -> None:
    lines = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "*"
    allowed = {line.removeprefix("!").rstrip("/") for line in lines if line.startswith("!")}
    copied = set()
    for op, args in instructions():
        if op == "COPY" and not args.startswith("--from"):
            copied.update(shlex.split(args)[:-1])
    assert {c.split("/")[0] for c in copied} <= allowed


def test_compose_wires_the_five_services_together() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"syncd", "postgres", "prometheus", "alertmanager", "grafana"} <= set(services)
    syncd = services["syncd"]
    assert syncd["environment"]["SYNCD_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in syncd["environment"]["SYNCD_DATABASE_URL"]
    assert syncd["read_only"] is True
    assert syncd["tmpfs"] == ["/tmp"]  # noqa: S108 - the container's tmpfs, not a temp file here
    assert "syncd-data:/var/lib/syncd" in syncd["volumes"]
    assert syncd["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert syncd["cap_drop"] == ["ALL"]
    # Prometheus gets the shipped config and rules, side by side as prometheus.yml expects.
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert prometheus["scrape_configs"][0]["static_configs"][0]["targets"] == ["syncd:9464"]
    assert prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    mounts = services["prometheus"]["volumes"]
    for rule_file in prometheus["rule_files"]:
        assert f"./prometheus/{rule_file}:/etc/prometheus/{rule_file}:ro" in mounts
    assert (
        "./alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro" in services["alertmanager"]["volumes"]
    )
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in services["grafana"]["volumes"]
    # Every bind-mounted file exists (paths are relative to deploy/).
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), volume
    # Removing the sandbox (as docs/deploy.md says to, for real vendors) leaves a valid file.
    without_sandbox = {name: service for name, service in services.items() if name != "sandbox"}
    for name, service in without_sandbox.items():
        depends = service.get("depends_on", [])
        assert "sandbox" not in depends, f"{name} depends on the sandbox"
    # The demo keys compose falls back to are the sandbox's, so `up` works with no .env at all.
    from syncd.sandbox import DEMO_KIT_API_KEY, DEMO_LEMLIST_API_KEY

    assert syncd["environment"]["LEMLIST_API_KEY"].endswith(f":-{DEMO_LEMLIST_API_KEY}}}")
    assert syncd["environment"]["KIT_API_KEY"].endswith(f":-{DEMO_KIT_API_KEY}}}")
    assert os.path.basename(services["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]) in {
        p.name for p in (DEPLOY / "grafana" / "dashboards").glob("*.json")
    }
