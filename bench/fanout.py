"""Sync fan-out: one round of 1,000 http_json sources against a vendor answering after 50 ms, and start-up.

The fake vendor is an aiohttp server in its own process on loopback: every request waits 50 ms
(asyncio.sleep) and answers a page of five dated items. One round sends one request per source,
all sources at once (the daemon runs each source in its own task). Measured in the same run, each
after a warm-up round that opens the connections, so every client is long-lived:

- bare: one `httpx.AsyncClient` per source, GET + JSON decode, with the same concurrency;
- fetch: syncd's connectors from its `ConnectorPool` collecting their window (HTTP layer, retries,
  redaction, parsing into daily counts), nothing stored;
- sync: `sync_source` per source, what `syncd sync --once` and the daemon run: read the stored
  state, plan the window, collect, store counts, cursor and change feed (SQLite, one writer at a time);
- daemon: `Daemon.sync_once` per source: the sync, then the re-evaluation of the goals it feeds.

The goal (issue 10: <= 1.3x bare) is checked against `fetch`; the others say what storage and
evaluation add. Start-up: from reading the configuration file to every source's task started
(`Daemon.run` with the schema upgrade, the first evaluation and the check-in record), in-process.

`python -m bench.fanout [SOURCES] [REPEATS]`; the default is the issue's 1,000 sources, 3 rounds.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx
from aiohttp import web
from sqlalchemy import Engine

from connectors.base import ConnectorContext
from syncd.config import load_config
from syncd.model import Config
from syncd.registry import load_registry
from syncd.run.daemon import Daemon
from syncd.run.sync import ConnectorPool, plan_window, shared_ssl_context, sync_source
from syncd.store import create_engine_for, upgrade

SOURCES = 1_000
LATENCY_S = 0.05
REPEATS = 3
ITEMS = 5
GOAL = 1.3


def _vendor_app(latency: float) -> web.Application:
    async def events(request: web.Request) -> web.Response:
        await asyncio.sleep(latency)
        since = datetime.fromisoformat(request.query["since"])
        items = [
            {"created_at": (since + timedelta(minutes=n)).isoformat(), "owner": f"rep{n}@acme.io"} for n in range(ITEMS)
        ]
        return web.json_response({"data": items})

    app = web.Application()
    app.router.add_get("/v1/events", events)
    return app


def _serve_vendor(ports: multiprocessing.Queue[int], latency: float) -> None:
    async def serve() -> None:
        runner = web.AppRunner(_vendor_app(latency), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)  # a TCPSite's server: a listening socket
        ports.put(server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    asyncio.run(serve())


def _config_text(sources: int, port: int, database_url: str) -> str:
    lines = [f"database_url: '{database_url}'", "teams:", "  sales: {}", "sources:"]
    lines += [
        f"  s{i}: {{connector: http_json, api_key: bench-key-{i:05d}, metric: events, interval: 5m, "
        f"url: 'http://127.0.0.1:{port}/v1/events?since={{start}}&until={{end}}', "
        "items_path: data, date_field: created_at, subject_path: owner}"
        for i in range(sources)
    ]
    lines.append("kpis:")
    lines += [f"  k{i}: {{source: s{i}, metric: events}}" for i in range(sources)]
    lines.append("goals:")
    lines += [f"  - {{kpi: k{i}, owner: sales, period: month, target: 100}}" for i in range(sources)]
    return "\n".join(lines) + "\n"


class _StartTimedDaemon(Daemon):
    """Stops as soon as every source's task is started: the end of start-up."""

    def __init__(self, *args: object, stop: asyncio.Event, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._stop_after_start = stop
        self.sources_started_at: float | None = None

    def _start_sources(self, stop: asyncio.Event) -> None:
        super()._start_sources(stop)
        self.sources_started_at = time.perf_counter()
        self._stop_after_start.set()


async def _start_up(path: Path) -> dict[str, float]:
    started = time.perf_counter()
    config = load_config(path)
    loaded = time.perf_counter()
    load_registry.cache_clear()
    load_registry()
    registry = time.perf_counter()
    engine = create_engine_for(config.database_url)
    stop = asyncio.Event()
    daemon = _StartTimedDaemon(config, engine, stop=stop)
    built = time.perf_counter()
    await daemon.run(stop, serve=False, upgrade_schema=True)
    assert daemon.sources_started_at is not None
    engine.dispose()
    return {
        "config": loaded - started,
        "registry": registry - loaded,
        "daemon": built - registry,
        "run": daemon.sources_started_at - built,
        "total": daemon.sources_started_at - started,
    }


async def _round(calls: list[Callable[[], Awaitable[object]]]) -> tuple[float, float]:
    """Return the round's wall time and this process's CPU time (every thread's) spent in it."""
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(call() for call in calls))
    return time.perf_counter() - started, time.process_time() - cpu


async def _bare_clients(config: Config) -> tuple[list[httpx.AsyncClient], list[Callable[[], Awaitable[object]]]]:
    now = datetime.now(UTC)
    since = (now - timedelta(days=1)).isoformat()
    clients = [
        httpx.AsyncClient(headers={"Authorization": f"Bearer bench-key-{i:05d}"}, timeout=30.0)
        for i in range(len(config.sources))
    ]
    url = f"{next(iter(config.sources.values())).settings.model_dump()['url'].split('?')[0]}"

    def call(client: httpx.AsyncClient) -> Callable[[], Awaitable[object]]:
        async def get() -> object:
            response = await client.get(url, params={"since": since, "until": now.isoformat()})
            response.raise_for_status()
            return response.json()

        return get

    return clients, [call(client) for client in clients]


_Timings = dict[str, list[tuple[float, float]]]  # layer -> (wall, CPU) per round


async def _fanout(config: Config, engine: Engine, repeats: int) -> _Timings:
    timings: _Timings = {"bare": [], "fetch": [], "sync": [], "daemon": []}
    clients, bare_calls = await _bare_clients(config)
    daemon = Daemon(config, engine)
    await daemon.start()
    sources = list(config.sources.values())
    pool = ConnectorPool()  # fetch and sync share it, as the daemon's syncs share its own
    registry = load_registry()

    def fetch(name: str) -> Callable[[], Awaitable[object]]:
        source = config.sources[name]
        connector_cls = registry.get(source.connector)
        assert connector_cls is not None
        # The context sync_window builds for the source.
        context = ConnectorContext(
            source=name,
            timezone=config.timezone,
            clock=daemon.clock,
            observer=daemon.stats[name],
            ssl_context=shared_ssl_context(),
            metrics=frozenset({"events"}),
        )

        # Planned once: a sync plans from its stored cursor, which these reads do not move.
        window, _ = plan_window(config, source, None, daemon.clock.now())

        async def collect() -> object:
            connector = await pool.get(source, lambda: connector_cls(source.settings, context))
            return await connector.collect(window, {})

        return collect

    def sync(name: str) -> Callable[[], Awaitable[object]]:
        source = config.sources[name]
        return lambda: sync_source(config, source, engine, daemon.clock, daemon.stats[name], pool=pool)

    def daemon_sync(name: str) -> Callable[[], Awaitable[object]]:
        source = config.sources[name]
        return lambda: daemon.sync_once(source)

    layers = {
        "bare": bare_calls,
        "fetch": [fetch(s.name) for s in sources],
        "sync": [sync(s.name) for s in sources],
        "daemon": [daemon_sync(s.name) for s in sources],
    }
    try:
        for calls in layers.values():
            await _round(calls)  # warm-up: connections opened, connectors made, first sync stored
        for run in range(repeats):
            # Alternate the order, so no layer always follows the same one.
            order = list(layers) if run % 2 == 0 else list(layers)[::-1]
            for name in order:
                timings[name].append(await _round(layers[name]))
        outcomes = await asyncio.gather(
            *(sync_source(config, s, engine, daemon.clock, daemon.stats[s.name], pool=pool) for s in sources[:3])
        )
        assert all(outcome.ok for outcome in outcomes), outcomes
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
        await pool.aclose()
        await daemon.connectors.aclose()
    return timings


def _ratios(timings: _Timings, name: str, part: int) -> tuple[float, float]:
    ratios = sorted(t[part] / b[part] for t, b in zip(timings[name], timings["bare"], strict=True))
    return ratios[0], statistics.median(ratios)


def main(sources: int = SOURCES, repeats: int = REPEATS, latency: float = LATENCY_S) -> None:
    """Print one sync round's cost per layer as ratios to bare httpx clients, and the start-up time."""
    context = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue[int] = context.Queue()
    vendor = context.Process(target=_serve_vendor, args=(ports, latency), daemon=True)
    vendor.start()
    try:
        port = ports.get(timeout=30)
        with TemporaryDirectory() as tmp:
            path = Path(tmp) / "syncd.yaml"
            path.write_text(_config_text(sources, port, f"sqlite:///{Path(tmp) / 'syncd.db'}"))
            first = asyncio.run(_start_up(path))
            again = asyncio.run(_start_up(path))
            print(
                f"start-up with {sources} sources, config file to every source's task started: "
                f"first {first['total']:.2f} s (config {first['config']:.2f}, registry {first['registry']:.2f}, "
                f"Daemon() {first['daemon']:.2f}, schema + first evaluation + tasks {first['run']:.2f}); "
                f"restart {again['total']:.2f} s (goal < 2 s)"
            )
            config = load_config(path)
            engine = create_engine_for(config.database_url)
            upgrade(engine)
            timings = asyncio.run(_fanout(config, engine, repeats))
            engine.dispose()
    finally:
        vendor.terminate()
        vendor.join(timeout=10)
    bare_wall = [wall for wall, _ in timings["bare"]]
    bare_cpu = [cpu for _, cpu in timings["bare"]]
    print(
        f"one round of {sources} sources at {latency * 1000:.0f} ms vendor latency, {repeats} round(s): "
        f"bare httpx clients wall median {statistics.median(bare_wall):.2f} s (min {min(bare_wall):.2f}), "
        f"CPU median {statistics.median(bare_cpu):.2f} s"
    )
    for name, what in (
        ("fetch", "fetch only (connectors)"),
        ("sync", "sync incl. store (sync_source)"),
        ("daemon", "daemon sync + re-evaluation"),
    ):
        wall_low, wall_median = _ratios(timings, name, 0)
        cpu_low, cpu_median = _ratios(timings, name, 1)
        goal = f" (goal <= {GOAL}x)" if name == "fetch" else ""
        print(
            f"  {what}: wall median {statistics.median(t for t, _ in timings[name]):.2f} s, "
            f"ratio to bare min {wall_low:.2f}x, median {wall_median:.2f}x{goal}; "
            f"CPU ratio min {cpu_low:.2f}x, median {cpu_median:.2f}x"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
