"""The HTTP side: readiness, the JSON API, and basic auth from an exporter-style web config."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import bcrypt
import httpx
import pytest
from aiohttp import web

from syncd.engine.snapshot import Snapshot, SnapshotHolder
from syncd.errors import ConfigError
from syncd.serve.web import WebState, build_app
from syncd.serve.web_config import WebConfig, load_web_config

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


async def storage_ok() -> bool:
    return True


async def storage_down() -> bool:
    return False


async def serve(state: WebState) -> AsyncIterator[str]:
    runner = web.AppRunner(build_app(state), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def ready_url() -> AsyncIterator[str]:
    holder = SnapshotHolder(Snapshot(generated_at=NOW, ready=True))
    async for url in serve(WebState(holder=holder, readiness=storage_ok)):
        yield url


async def test_health_readiness_and_api(ready_url: str):
    async with httpx.AsyncClient(base_url=ready_url) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200
        assert (await client.get("/api/v1/goals")).json() == []
        metrics = await client.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        assert "syncd_build_info{version=" in metrics.text
        assert "<h1>syncd: who is on pace</h1>" in (await client.get("/")).text


async def test_not_ready_until_evaluated_and_while_storage_is_down():
    pending = WebState(holder=SnapshotHolder(Snapshot(generated_at=NOW)), readiness=storage_ok)
    async for url in serve(pending):
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/readyz")).status_code == 503
            assert (await client.get("/healthz")).status_code == 200
    down = WebState(holder=SnapshotHolder(Snapshot(generated_at=NOW, ready=True)), readiness=storage_down)
    async for url in serve(down):
        async with httpx.AsyncClient(base_url=url) as client:
            response = await client.get("/readyz")
            assert (response.status_code, response.text) == (503, "not ready: storage unreachable\n")


async def test_basic_auth_from_the_web_config(tmp_path: Path):
    hashed = bcrypt.hashpw(b"s3cret-pass", bcrypt.gensalt(rounds=4)).decode()
    path = tmp_path / "web.yml"
    path.write_text(f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    config = load_web_config(str(path))
    state = WebState(
        holder=SnapshotHolder(Snapshot(generated_at=NOW, ready=True)), readiness=storage_ok, web_config=config
    )
    good = "Basic " + base64.b64encode(b"prometheus:s3cret-pass").decode()
    bad = "Basic " + base64.b64encode(b"prometheus:wrong").decode()
    stranger = "Basic " + base64.b64encode(b"eve:s3cret-pass").decode()
    async for url in serve(state):
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/metrics")).status_code == 401
            assert (await client.get("/metrics", headers={"Authorization": bad})).status_code == 401
            assert (await client.get("/metrics", headers={"Authorization": stranger})).status_code == 401
            assert (await client.get("/metrics", headers={"Authorization": good})).status_code == 200
            assert (await client.get("/healthz")).status_code == 200  # probes carry no credentials
            assert (await client.get("/readyz")).status_code == 200
            assert (await client.get("/")).status_code == 401
    # An explicit `probes_without_auth: false` puts the probes behind the credentials too.
    path.write_text(f"basic_auth_users:\n  prometheus: '{hashed}'\nprobes_without_auth: false\n")
    state.web_config = load_web_config(str(path))
    async for url in serve(state):
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/healthz")).status_code == 401
            assert (await client.get("/readyz")).status_code == 401
            assert (await client.get("/readyz", headers={"Authorization": good})).status_code == 200


async def test_users_change_with_the_web_config_while_serving():
    hashed = bcrypt.hashpw(b"s3cret-pass", bcrypt.gensalt(rounds=4))
    state = WebState(holder=SnapshotHolder(Snapshot(generated_at=NOW, ready=True)), readiness=storage_ok)
    async for url in serve(state):
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/metrics")).status_code == 200
            state.web_config = WebConfig(users=(("prometheus", hashed),))  # what a reload does
            assert (await client.get("/metrics")).status_code == 401
            state.web_config = WebConfig()
            assert (await client.get("/metrics")).status_code == 200


def test_web_config_errors(tmp_path: Path):
    path = tmp_path / "web.yml"
    path.write_text("basic_auth_users:\n  prometheus: plaintext\n")
    with pytest.raises(ConfigError) as info:
        load_web_config(str(path))
    assert str(info.value) == f"{path}: basic_auth_users.prometheus: must be a bcrypt hash (htpasswd -B)"
    path.write_text("tls_server_config: {cert_file: a.pem}\n")
    with pytest.raises(ConfigError) as info:
        load_web_config(str(path))
    assert "tls_server_config.key_file" in str(info.value)
    assert WebConfig().ssl_context() is None
