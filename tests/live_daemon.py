"""A daemon synced against the sandbox on a fake clock and served on loopback, for HTTP-level tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from syncd.run.daemon import Daemon
from syncd.sandbox.server import Sandbox
from syncd.serve.web import build_app
from syncd.store import create_engine_for, upgrade
from tests import test_daemon
from tests.fakes import FakeClock
from tests.test_daemon import NOW, activity, config_for

__all__ = ["NOW", "live_daemon"]

FUNNEL = """
funnels:
  outreach: {{steps: [emails, replies], period: month, min_volume: 1}}
"""


@asynccontextmanager
async def live_daemon(tmp_path: Path) -> AsyncIterator[str]:
    """Yield the base URL of a daemon whose sources have each synced once against the sandbox."""
    clock = FakeClock(NOW)
    engine = create_engine_for(f"sqlite:///{tmp_path / 'd.db'}")
    upgrade(engine)
    sandbox = Sandbox(clock=clock, activity=activity())
    await sandbox.start()
    text = (
        test_daemon.CONFIG.replace(
            "  optins: {{source: kit, metric: new_subscribers}}",
            "  optins: {{source: kit, metric: new_subscribers, unit: subscribers, description: Newsletter opt-ins}}\n"
            "  replies: {{source: lemlist, metric: emails_replied, per_person: true}}",
        )
        + FUNNEL
    )
    daemon = Daemon(config_for(sandbox, text), engine, clock=clock)
    for source in daemon.config.sources.values():
        await daemon.sync_once(source)
    await daemon.evaluate()
    runner = web.AppRunner(build_app(daemon.web_state), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
        await daemon.connectors.aclose()
        await sandbox.stop()
        engine.dispose()
