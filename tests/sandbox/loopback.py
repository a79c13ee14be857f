"""Serve a sandbox fake on a real loopback port for the length of a test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from aiohttp import web


class _HasApp(Protocol):
    def app(self) -> web.Application: ...


@asynccontextmanager
async def serve(target: web.Application | _HasApp, root: str = "") -> AsyncIterator[str]:
    """Run the fake (or its application) on 127.0.0.1; yield its URL with the vendor's API root appended."""
    app = target if isinstance(target, web.Application) else target.app()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}{root}"
    finally:
        await runner.cleanup()
