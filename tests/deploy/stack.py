"""The monitoring stack as real processes: sandbox, `syncd run`, Prometheus, Alertmanager, a webhook.

Every wait is a poll with a deadline: these are real programs on the real clock, so there is no
clock to inject; nothing here sleeps longer than one poll interval.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from tests.processes import Process, free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "syncd-alerts.yml"
ALERTMANAGER_CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"

T = TypeVar("T")


def require_binary(*names: str) -> str:
    """Return the first of `names` on PATH; skip without it, but fail in CI, which installs them."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    message = f"none of {', '.join(names)} is installed (apt-get install prometheus prometheus-alertmanager)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Stack:
    """The processes of one test, stopped in reverse order at teardown."""

    tmp: Path
    processes: list[Process] = field(default_factory=list)

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> Process:
        """Start a process and remember it for teardown."""
        process = Process(name, args, self.tmp, env)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        """Stop every process, newest first."""
        for process in reversed(self.processes):
            process.stop()

    def logs(self) -> str:
        """Return every process's output, for a failing assertion's message."""
        return "\n".join(f"--- {p.name}\n{p.output()[-3000:]}" for p in self.processes)


def start_sandbox(stack: Stack, events: dict[str, object] | None = None) -> dict[str, str]:
    """Run `python -m syncd.sandbox` (explicit events if given); return its URLs and keys."""
    args = [sys.executable, "-m", "syncd.sandbox", "--json"]
    if events is not None:
        events_file = stack.tmp / "events.json"
        events_file.write_text(json.dumps(events), encoding="utf-8")
        args += ["--events", str(events_file)]
    sandbox = stack.start("sandbox", args)
    line = wait_until(lambda: sandbox.output().strip().splitlines()[0], timeout=20, what="the sandbox's URLs")
    return {str(k): str(v) for k, v in json.loads(line).items() if isinstance(v, str)}


def start_syncd(stack: Stack, config: dict[str, Any], env: dict[str, str]) -> str:
    """Write `config`, run `syncd run` on it and return its base URL once /readyz answers."""
    path = stack.tmp / "syncd.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    args = [sys.executable, "-c", "from syncd.cli import main; main()", "run", "--config", str(path)]
    stack.start("syncd", args, env={**os.environ, **env})
    base = f"http://{config['listen']}"
    wait_until(lambda: httpx.get(f"{base}/readyz", timeout=2).status_code == 200, timeout=30, what="syncd ready")
    return base


def render_rules(target: Path, *, for_seconds: int) -> Path:
    """Copy the shipped rules with every `for:` shortened, so a test need not wait hours."""
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    for group in rules["groups"]:
        group["interval"] = "1s"
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = f"{for_seconds}s"
    target.write_text(yaml.safe_dump(rules, sort_keys=False), encoding="utf-8")
    return target


def start_prometheus(stack: Stack, *, targets: list[str], rules: Path, alertmanager: str | None = None) -> str:
    """Run Prometheus scraping `targets` every second with `rules`; return its URL once ready."""
    binary = require_binary("prometheus")
    port = free_port()
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [{"job_name": "syncd", "static_configs": [{"targets": targets}]}],
    }
    if alertmanager is not None:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    path = stack.tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    stack.start(
        "prometheus",
        [
            binary,
            f"--config.file={path}",
            f"--storage.tsdb.path={stack.tmp / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--rules.alert.resend-delay=1s",
        ],
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: httpx.get(f"{url}/-/ready", timeout=2).status_code == 200, timeout=30, what="Prometheus")
    return url


def prometheus_query(url: str, expr: str) -> list[dict[str, Any]]:
    """Evaluate an instant query; return its result vector (fails on a PromQL error)."""
    response = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=5)
    body = response.json()
    assert body["status"] == "success", f"{expr}: {body}"
    return list(body["data"]["result"])


def start_alertmanager(stack: Stack, config: dict[str, Any]) -> str:
    """Run Alertmanager on `config` (no clustering); return its host:port once ready."""
    binary = require_binary("alertmanager", "prometheus-alertmanager")
    port = free_port()
    path = stack.tmp / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    stack.start(
        "alertmanager",
        [
            binary,
            f"--config.file={path}",
            f"--storage.path={stack.tmp / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
    )
    address = f"127.0.0.1:{port}"
    wait_until(
        lambda: httpx.get(f"http://{address}/-/ready", timeout=2).status_code == 200,
        timeout=30,
        what="Alertmanager",
    )
    return address


@dataclass(frozen=True)
class Notification:
    """One webhook call Alertmanager made: which receiver, when it arrived, what it carried."""

    receiver: str
    received: float
    payload: dict[str, Any]

    def alerts(self) -> list[dict[str, Any]]:
        """Return the alerts of the notification."""
        return list(self.payload["alerts"])


class WebhookReceiver:
    """An HTTP server on loopback that records every Alertmanager webhook call by URL path."""

    def __init__(self) -> None:
        self.notifications: list[Notification] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer._lock:
                    outer.notifications.append(Notification(self.path.strip("/"), time.monotonic(), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def received(self) -> list[Notification]:
        """Return a copy of the notifications so far."""
        with self._lock:
            return list(self.notifications)


def alertmanager_config_for_test(webhook: str, *, repeat_seconds: int) -> dict[str, Any]:
    """Return the shipped Alertmanager config with every receiver pointed at `webhook/<receiver>`.

    Routes, matchers and inhibitions stay as shipped; only timings shrink so the test is quick.
    """
    config: dict[str, Any] = yaml.safe_load(ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
    for receiver in config["receivers"]:
        if "webhook_configs" not in receiver:
            continue  # a receiver that tells nobody (inhibition only) stays silent
        receiver["webhook_configs"] = [{"url": f"{webhook}/{receiver['name']}", "send_resolved": False}]

    def shrink(route: dict[str, Any]) -> None:
        for key in ("group_wait", "group_interval", "repeat_interval"):
            if key in route:
                route[key] = f"{repeat_seconds}s" if key == "repeat_interval" else "1s"
        for child in route.get("routes", []):
            shrink(child)

    shrink(config["route"])
    return config
