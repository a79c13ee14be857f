"""`syncd demo`: the sandbox's fake SaaS APIs and the daemon against them, on SQLite, in one process."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import socket

import click

from syncd.config import load_config
from syncd.redaction import install_log_redaction
from syncd.run.daemon import Daemon
from syncd.sandbox.server import Sandbox
from syncd.sandbox.vendors import VENDORS
from syncd.serve.push import push_routes
from syncd.store import create_engine_for, upgrade

__all__ = ["run_demo"]

# Preferred ports for the fakes, so the demo URLs are the same every time; any free one otherwise.
DEMO_LEMLIST_PORT = 9471
DEMO_KIT_PORT = 9472
DEMO_VENDOR_PORTS = {name: 9473 + index for index, name in enumerate(VENDORS)}


def _free(port: int) -> int:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return 0
            raise
    return port


def run_demo(config_path: str, *, seed: int = 42) -> None:
    """Start the sandbox, point the configuration at it and run the daemon until interrupted."""
    asyncio.run(_demo(config_path, seed))


async def _demo(config_path: str, seed: int) -> None:
    sandbox = Sandbox(
        seed=seed,
        lemlist_port=_free(DEMO_LEMLIST_PORT),
        kit_port=_free(DEMO_KIT_PORT),
        vendors=list(VENDORS),
        vendor_ports={name: _free(port) for name, port in DEMO_VENDOR_PORTS.items()},
    )
    async with sandbox:
        # The demo configuration reads its vendor URLs and (public, sandbox-only) keys from here.
        for name in sandbox.names:
            os.environ[f"SYNCD_DEMO_{name.upper()}_URL"] = sandbox.url(name)
            os.environ.setdefault(f"{name.upper()}_API_KEY", sandbox.api_keys[name])
        config = load_config(config_path)
        install_log_redaction(config)
        if not config.database_url.startswith("sqlite"):
            raise click.UsageError("the demo runs on SQLite; unset SYNCD_DATABASE_URL")
        engine = create_engine_for(config.database_url)
        await asyncio.to_thread(upgrade, engine)
        daemon = Daemon(config, engine, extra_routes=push_routes)
        base = f"http://{config.listen_host}:{config.listen_port}"
        click.echo(
            "syncd demo is running (Ctrl-C stops it)\n"
            f"  status page   {base}/\n"
            f"  metrics       {base}/metrics\n"
            f"  goals (JSON)  {base}/api/v1/goals\n"
            f"  sandbox       {len(sandbox.names)} fake vendor APIs, lemlist at {sandbox.lemlist_url}\n"
            f"  database      {config.database_url}"
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await daemon.run(stop)
