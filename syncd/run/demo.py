"""`syncd demo`: the sandbox's fake SaaS APIs and the daemon against them, on SQLite, in one process.

The configuration is the one truth: each source's `base_url` names the loopback port its fake
listens on (config/syncd.yaml's defaults), so every other command run beside the demo with the same
file reaches the same fakes with nothing exported. A source that points anywhere but loopback is
refused: the demo's keys must never reach a real vendor.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import os
import signal
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

import click

from syncd.config import DEFAULT_CONFIG_PATH, load_config
from syncd.model import Config
from syncd.redaction import install_log_redaction
from syncd.run.daemon import Daemon
from syncd.run.demo_story import seed_recorded_counts
from syncd.sandbox.server import Sandbox
from syncd.sandbox.vendors import VENDORS
from syncd.serve.push import push_routes
from syncd.store import create_engine_for, upgrade
from syncd.store.executor import run_db, run_db_write

__all__ = ["demo_config_path", "run_demo", "sandbox_ports"]

SANDBOX_VENDORS = ("lemlist", "kit", *VENDORS)


def demo_config_path(option: str | None) -> str:
    """Return the demo's configuration: the one asked for, else config/syncd.yaml here, else the packaged copy."""
    if option:
        return option
    if os.environ.get("SYNCD_CONFIG"):
        return os.environ["SYNCD_CONFIG"]
    if Path(DEFAULT_CONFIG_PATH).is_file():
        return DEFAULT_CONFIG_PATH
    # Outside a checkout (an installed syncd, another directory) the demo still has its file.
    return str(resources.files("syncd.sandbox").joinpath("demo.yaml"))


def sandbox_ports(config: Config) -> dict[str, int]:
    """Return the port each sandbox vendor must listen on, read from the sources' `base_url`.

    Raises click.UsageError when a source would leave the machine or two sources of one vendor
    disagree on the port.
    """
    ports: dict[str, int] = {}
    for source in config.sources.values():
        if source.connector not in SANDBOX_VENDORS:
            continue
        base_url = getattr(source.settings, "base_url", None)
        parts = urlsplit(base_url or "")
        if not base_url or not _is_loopback(parts.hostname or "") or parts.port is None:
            raise click.UsageError(
                f"source {source.name}: the demo runs only against its sandbox, so base_url must be "
                f"http://127.0.0.1:PORT/... (it is {base_url or 'the vendor default'})"
            )
        known = ports.setdefault(source.connector, parts.port)
        if known != parts.port:
            raise click.UsageError(
                f"source {source.name}: the {source.connector} fake listens on port {known}, not {parts.port}"
            )
    return ports


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_demo(config_path: str, *, seed: int = 42) -> None:
    """Start the sandbox on the configured ports and run the daemon against it until interrupted."""
    config = load_config(config_path)
    install_log_redaction(config)
    if not config.database_url.startswith("sqlite"):
        raise click.UsageError("the demo runs on SQLite; unset SYNCD_DATABASE_URL")
    asyncio.run(_demo(config, seed, sandbox_ports(config), str(Path(config.file).resolve())))


async def _demo(config: Config, seed: int, ports: dict[str, int], config_file: str) -> None:
    sandbox = Sandbox(
        seed=seed,
        timezone=str(config.timezone),
        lemlist_port=ports.get("lemlist", 0),
        kit_port=ports.get("kit", 0),
        vendors=list(VENDORS),
        vendor_ports={name: port for name, port in ports.items() if name in VENDORS},
    )
    try:
        await sandbox.start()
    except OSError as exc:
        await sandbox.stop()
        if exc.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"a sandbox port is already in use ({exc.strerror}): is another `syncd demo` running? "
                "Stop it, or move the fakes with SYNCD_DEMO_<VENDOR>_URL"
            ) from None
        raise
    try:
        engine = create_engine_for(config.database_url)
        await run_db(upgrade, engine)
        await run_db_write(seed_recorded_counts, config, engine, now=sandbox.clock.now(), seed=seed)
        daemon = Daemon(config, engine, extra_routes=push_routes)
        base = f"http://{config.listen_host}:{config.listen_port}"
        click.echo(
            "syncd demo is running (Ctrl-C stops it)\n"
            f"  status page   {base}/\n"
            f"  metrics       {base}/metrics\n"
            f"  goals (JSON)  {base}/api/v1/goals\n"
            f"  sandbox       {len(sandbox.names)} fake vendor APIs on loopback (lemlist at {sandbox.lemlist_url})\n"
            f"  config        {config_file}\n"
            "                (every `syncd` command run from this folder uses it: nothing to export)\n"
            f"  database      {config.database_url}"
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await daemon.run(stop)
    finally:
        await sandbox.stop()
