"""`syncd demo`: the sandbox's fake SaaS APIs and the daemon against them, on SQLite, in one process.

The configuration is the one truth: each source's `base_url` names the loopback port its fake
listens on (config/syncd.yaml's defaults), so every other command run beside the demo with the same
file reaches the same fakes with nothing exported. A source that points anywhere but loopback is
refused: the demo's keys must never reach a real vendor.

The demo runs on simulated time (`--speed`, see syncd/run/demo_clock.py): the fakes serve the team's
activity up to the simulated "now" and the daemon paces, schedules and syncs on the same clock, so at
speed 60 a simulated hour of work arrives every real minute. One fake, the call log, is down for two
simulated hours a day (syncd/sandbox/outages.py), so a source is seen failing and recovering.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import os
import signal
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import click
from sqlalchemy import Engine

from syncd.clock import MAX_SPEED, Clock, ScaledClock
from syncd.config import DEFAULT_CONFIG_PATH, load_config
from syncd.errors import StorageError
from syncd.model import Config
from syncd.redaction import install_log_redaction
from syncd.run.daemon import Daemon
from syncd.run.demo_clock import DemoTimeline, demo_clock_path, read_timeline, write_timeline
from syncd.run.demo_story import seed_recorded_counts
from syncd.run.shutdown import run_until_stopped
from syncd.sandbox.outages import Outages
from syncd.sandbox.server import Sandbox
from syncd.sandbox.vendors import VENDORS
from syncd.serve.push import push_routes
from syncd.store import create_engine_for, upgrade
from syncd.store.executor import run_db, run_db_write

__all__ = [
    "DEFAULT_SPEED",
    "FAILING_VENDOR",
    "MAX_SPEED",
    "SimulatedTimeFormatter",
    "clock_banner",
    "demo_clock",
    "demo_config_path",
    "demo_start",
    "failing_banner",
    "run_demo",
    "sandbox_ports",
]

log = logging.getLogger(__name__)

SANDBOX_VENDORS = ("lemlist", "kit", *VENDORS)
# A simulated minute per real second: the demo's sources (5m to 15m intervals) sync every 5 to 15
# real seconds and each brings minutes of new office-hours activity, so values change within a
# real minute, while a simulated day still lasts 24 real minutes (long enough to watch).
DEFAULT_SPEED = 60.0
# The fake that fails now and then: the call log, two simulated hours a day.
FAILING_VENDOR = "http_json"
# The team's working hours (local): a fast demo started outside them begins at the next working
# morning, so the first minutes show people at work rather than a quiet night or weekend.
WORKDAY_STARTS = time(8)
WORKDAY_ENDS = time(17)


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


def run_demo(config_path: str, *, seed: int = 42, speed: float = DEFAULT_SPEED) -> None:
    """Start the sandbox on the configured ports and run the daemon against it until interrupted."""
    config = load_config(config_path)
    install_log_redaction(config)
    if not config.database_url.startswith("sqlite"):
        raise click.UsageError("the demo runs on SQLite; unset SYNCD_DATABASE_URL")
    asyncio.run(_demo(config, seed, speed, sandbox_ports(config), str(Path(config.file).resolve())))


def demo_clock(config: Config, speed: float, real_now: datetime) -> ScaledClock:
    """Return the demo's simulated clock, starting where `demo_start` says."""
    path = demo_clock_path(config.database_url)
    return ScaledClock(demo_start(config, speed, real_now, read_timeline(path) if path else None), speed)


def demo_start(config: Config, speed: float, real_now: datetime, previous: DemoTimeline | None) -> datetime:
    """Return the simulated instant a demo starts at.

    From where the last demo on this database left off, else real now: never behind a previous run's
    simulated time, so stored counts are never re-read lower. Faster than real time, a start outside
    working hours moves on to the next working morning (08:00, skipping weekends and holidays).
    """
    start = previous.at(real_now) if previous else real_now
    if speed == 1:
        return start
    local = start.astimezone(config.timezone)
    if _working_day(local.date(), config) and WORKDAY_STARTS <= local.time() < WORKDAY_ENDS:
        return start
    day = local.date() if local.time() < WORKDAY_STARTS else local.date() + timedelta(days=1)
    while not _working_day(day, config):
        day += timedelta(days=1)
    return datetime.combine(day, WORKDAY_STARTS, tzinfo=config.timezone).astimezone(UTC)


def _working_day(day: date, config: Config) -> bool:
    return day.weekday() < 5 and day not in config.holidays


def _publish_clock(database_url: str, timeline: DemoTimeline) -> None:
    path = demo_clock_path(database_url)
    if path is not None:
        write_timeline(path, timeline)


async def _demo(config: Config, seed: int, speed: float, ports: dict[str, int], config_file: str) -> None:
    real_start = datetime.now(UTC)
    clock = demo_clock(config, speed, real_start)
    sandbox = Sandbox(
        seed=seed,
        clock=clock,
        timezone=str(config.timezone),
        lemlist_port=ports.get("lemlist", 0),
        kit_port=ports.get("kit", 0),
        vendors=list(VENDORS),
        vendor_ports={name: port for name, port in ports.items() if name in VENDORS},
        outages={FAILING_VENDOR: Outages(seed, config.timezone)},
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
        _publish_clock(config.database_url, DemoTimeline(real_start, clock.start, speed))
        for handler in logging.getLogger().handlers:
            handler.setFormatter(SimulatedTimeFormatter(clock, config.timezone))
        engine = create_engine_for(config.database_url)
        await run_db(upgrade, engine)
        await run_db_write(seed_recorded_counts, config, engine, now=clock.now(), seed=seed)
        daemon = Daemon(config, engine, clock=clock, extra_routes=push_routes)
        base = f"http://{config.listen_host}:{config.listen_port}"
        click.echo(
            "syncd demo is running (Ctrl-C stops it)\n"
            f"  status page   {base}/\n"
            f"  metrics       {base}/metrics\n"
            f"  goals (JSON)  {base}/api/v1/goals\n"
            f"  sandbox       {len(sandbox.names)} fake vendor APIs on loopback (lemlist at {sandbox.lemlist_url})\n"
            f"  config        {config_file}\n"
            "                (every `syncd` command run from this folder uses it: nothing to export)\n"
            f"  database      {config.database_url}\n"
            f"  clock         {clock_banner(clock, config)}\n"
            "                (commands run beside the demo share its simulated time)\n"
            f"  failing       {failing_banner(sandbox, config)}"
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        # SIGHUP too (the terminal closed): the finally below must stop the clock file, or every later
        # command on this database would run on from the old anchor at the demo's speed.
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, stop.set)
        recorder = asyncio.create_task(_record_closing_days(config, engine, clock, seed, stop), name="demo-record")
        try:
            # As `syncd run`: a stuck database call or render cannot hold Ctrl-C.
            await run_until_stopped(daemon.run(stop), stop)
        finally:
            recorder.cancel()
            await asyncio.gather(recorder, return_exceptions=True)
    finally:
        await sandbox.stop()
        # Stopped: simulated time stands where it is, for the commands run meanwhile and the next demo.
        _publish_clock(config.database_url, DemoTimeline(datetime.now(UTC), clock.now(), 0.0))


class SimulatedTimeFormatter(logging.Formatter):
    """Stamps log lines with the demo's simulated time, the time every figure and wait in them is in."""

    def __init__(self, clock: Clock, zone: ZoneInfo) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._clock = clock
        self._zone = zone

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return self._clock.now().astimezone(self._zone).strftime(datefmt or "%Y-%m-%d %H:%M:%S %Z")


# How often the running demo records the days that closed, in simulated seconds.
RECORD_EVERY_SECONDS = 3600.0


async def _record_closing_days(
    config: Config, engine: Engine, clock: ScaledClock, seed: int, stop: asyncio.Event
) -> None:
    """Record each closed simulated day's counts into the push sources, as people would."""
    while not stop.is_set():
        await clock.sleep_periodic(RECORD_EVERY_SECONDS)
        try:
            await run_db_write(
                seed_recorded_counts, config, engine, now=clock.now(), seed=seed, days=3, keep_recorded=True
            )
        except StorageError as exc:
            log.warning("demo: could not record the closed days: %s", exc)


def clock_banner(clock: ScaledClock, config: Config) -> str:
    """Describe the demo's clock in one line: its speed and the simulated now, in the configured zone."""
    now = clock.now().astimezone(config.timezone).strftime("%a %d %b %Y %H:%M %Z")
    if clock.speed == 1:
        return f"real time (--speed 1), now {now}"
    per_second = _duration(clock.speed)
    return f"simulated, {clock.speed:g}x real time ({per_second} per real second), now {now}"


def failing_banner(sandbox: Sandbox, config: Config) -> str:
    """Name the sources whose fake fails now and then, and today's (simulated) outage."""
    names = [
        name
        for name, source in config.sources.items()
        if source.connector in sandbox.outages and source.connector in sandbox.names
    ]
    if not names:
        return "none"
    outages = sandbox.outages[config.sources[names[0]].connector]
    start, end = outages.window(sandbox.clock.now().astimezone(config.timezone).date())
    hours = f"{outages.hours:g} h"
    return (
        f"{', '.join(names)}: its API is down {hours} a day at a seeded hour "
        f"(today {start:%H:%M}-{end:%H:%M}), to show a source down and recovering"
    )


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:g} simulated seconds"
    if seconds < 3600:
        return f"{seconds / 60:g} simulated minute{'s' if seconds != 60 else ''}"
    return f"{seconds / 3600:g} simulated hour{'s' if seconds != 3600 else ''}"
