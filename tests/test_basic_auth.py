"""Basic auth: bcrypt off the event loop, a short cache of verified credentials, equal-cost dummy hash."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import bcrypt
import httpx
import pytest
from aiohttp import web

from syncd.engine.snapshot import Snapshot, SnapshotHolder
from syncd.serve.basic_auth import CACHE_SECONDS, MAX_PASSWORD_BYTES, BasicAuthenticator
from syncd.serve.web import WebState, build_app
from syncd.serve.web_config import WebConfig
from tests.fakes import FakeClock

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PASSWORD = b"s3cret-pass"
HASHED = bcrypt.hashpw(PASSWORD, bcrypt.gensalt(rounds=5))
CONFIG = WebConfig(users=(("prometheus", HASHED),))


def basic(user: bytes, password: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(user + b":" + password).decode()}


class RecordingVerifier:
    """bcrypt.checkpw, recording the hashes it was asked about; can be held until released."""

    def __init__(self, *, hold: bool = False) -> None:
        self.hashes: list[bytes] = []
        self.started = threading.Semaphore(0)
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def __call__(self, password: bytes, hashed: bytes) -> bool:
        self.hashes.append(hashed)
        self.started.release()
        self.release.wait(timeout=30)
        return bcrypt.checkpw(password, hashed)


async def serve(auth: BasicAuthenticator) -> AsyncIterator[str]:
    state = WebState(
        holder=SnapshotHolder(Snapshot(generated_at=NOW, ready=True)),
        readiness=lambda: asyncio.sleep(0, result=True),
        web_config=auth.config,
        auth=auth,
    )
    runner = web.AppRunner(build_app(state), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
        auth.close()


async def test_healthz_answers_while_fifty_wrong_passwords_wait_for_bcrypt() -> None:
    verifier = RecordingVerifier(hold=True)
    auth = BasicAuthenticator(CONFIG, verify=verifier)
    async for url in serve(auth):
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            wrong = [
                asyncio.create_task(client.get("/metrics", headers=basic(b"prometheus", b"wrong-%d" % i)))
                for i in range(50)
            ]
            # Both auth threads are inside bcrypt and 48 checks are queued behind them ...
            for _ in range(2):
                assert await asyncio.to_thread(verifier.started.acquire, True, 10)
            health = await client.get("/healthz")
            assert (health.status_code, health.text) == (200, "ok\n")
            assert not any(task.done() for task in wrong)
            assert len(verifier.hashes) == 2  # ... the rest are waiting, not running on the loop
            verifier.release.set()
            statuses = [response.status_code for response in await asyncio.gather(*wrong)]
    assert statuses == [401] * 50
    assert len(verifier.hashes) == 50


async def test_unknown_users_are_checked_against_a_hash_of_the_configured_cost() -> None:
    verifier = RecordingVerifier()
    auth = BasicAuthenticator(CONFIG, verify=verifier)
    async for url in serve(auth):
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/metrics", headers=basic(b"eve", PASSWORD))).status_code == 401
            assert (await client.get("/metrics", headers=basic(b"prometheus", b"nope"))).status_code == 401
    dummy, real = verifier.hashes
    assert dummy != real
    assert dummy[:7] == real[:7] == b"$2b$05$"  # same algorithm, same cost: same time


async def test_a_verified_credential_is_cached_for_a_minute_by_a_fingerprint_only() -> None:
    verifier = RecordingVerifier()
    clock = FakeClock(NOW)
    auth = BasicAuthenticator(CONFIG, verify=verifier, clock=clock)
    async for url in serve(auth):
        async with httpx.AsyncClient(base_url=url) as client:
            for _ in range(3):
                assert (await client.get("/metrics", headers=basic(b"prometheus", PASSWORD))).status_code == 200
            assert len(verifier.hashes) == 1
            # A wrong password is never cached: each try costs a full check.
            for _ in range(2):
                assert (await client.get("/", headers=basic(b"prometheus", b"wrong"))).status_code == 401
            assert len(verifier.hashes) == 3
            clock.advance(CACHE_SECONDS + 1)
            assert (await client.get("/metrics", headers=basic(b"prometheus", PASSWORD))).status_code == 200
            assert len(verifier.hashes) == 4
    keys = list(auth._cache)
    assert len(keys) == 1
    assert PASSWORD not in keys[0]
    assert len(keys[0]) == 32


@pytest.mark.parametrize("extra", [1, 400])
async def test_a_password_over_72_bytes_is_401_not_500_nor_truncated(extra: int) -> None:
    exactly = b"p" * MAX_PASSWORD_BYTES
    config = WebConfig(users=(("long", bcrypt.hashpw(exactly, bcrypt.gensalt(rounds=4))),))
    auth = BasicAuthenticator(config)
    async for url in serve(auth):
        async with httpx.AsyncClient(base_url=url) as client:
            # bcrypt reads 72 bytes: without the check this would log in (or, on bcrypt 5, answer 500).
            response = await client.get("/metrics", headers=basic(b"long", exactly + b"x" * extra))
            assert response.status_code == 401
            assert (await client.get("/metrics", headers=basic(b"long", exactly))).status_code == 200


@pytest.mark.parametrize(
    "header",
    ["Basic", "Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(), "Bearer x", "Basic " + "A" * 5000],
)
async def test_malformed_headers_are_401(header: str) -> None:
    auth = BasicAuthenticator(CONFIG)
    async for url in serve(auth):
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/metrics", headers={"Authorization": header})).status_code == 401


async def test_a_reloaded_web_config_gets_its_own_authenticator_and_an_empty_cache() -> None:
    state = WebState(
        holder=SnapshotHolder(Snapshot(generated_at=NOW, ready=True)),
        readiness=lambda: asyncio.sleep(0, result=True),
        web_config=CONFIG,
    )
    runner = web.AppRunner(build_app(state), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{runner.addresses[0][1]}") as client:
            assert (await client.get("/metrics", headers=basic(b"prometheus", PASSWORD))).status_code == 200
            first = state.auth
            state.web_config = WebConfig(users=(("grafana", bcrypt.hashpw(b"other", bcrypt.gensalt(rounds=4))),))
            # The old login was cached under the old users: a reload that removed them ends it.
            assert (await client.get("/metrics", headers=basic(b"prometheus", PASSWORD))).status_code == 401
            assert (await client.get("/metrics", headers=basic(b"grafana", b"other"))).status_code == 200
            assert state.auth is not first
            assert first is not None
            assert state.auth is not None
            assert state.auth.executor is first.executor
    finally:
        await runner.cleanup()
        if state.auth is not None:
            state.auth.close()
