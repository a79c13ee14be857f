"""Run the lemlist and Kit fakes together on loopback, one port each."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from types import TracebackType
from typing import Any, Self
from zoneinfo import ZoneInfo

from aiohttp import web

from syncd.clock import Clock, SystemClock
from syncd.sandbox.activity import DEMO_TEAM, ActivitySource, DemoTeam, GeneratedActivity
from syncd.sandbox.kit import KitFake
from syncd.sandbox.lemlist import LemlistFake
from syncd.sandbox.outages import Outages, outage_middleware
from syncd.sandbox.vendors import VENDORS, demo_api_key

__all__ = ["DEFAULT_HISTORY_DAYS", "DEMO_KIT_API_KEY", "DEMO_LEMLIST_API_KEY", "FUTURE_DAYS", "Sandbox"]

# Public, fixed demo credentials: they open nothing but the sandbox.
DEMO_LEMLIST_API_KEY = "demo-lemlist-key-0000"
DEMO_KIT_API_KEY = "demo-kit-key-0000"
DEFAULT_HISTORY_DAYS = 120
FUTURE_DAYS = 62


class Sandbox:
    """Both fakes on loopback: `async with Sandbox(seed=42) as sb:` then use `sb.lemlist_url`.

    Without `activity` the demo team's activity is generated from `seed`, starting
    `history_days` local days before the clock's "now" when the sandbox is built.
    Port 0 (the default) picks a free ephemeral port. `outages` names fakes that answer 503
    during their seeded windows of the sandbox's clock (the demo's source that fails now and then).
    """

    def __init__(
        self,
        *,
        seed: int = 42,
        clock: Clock | None = None,
        activity: ActivitySource | None = None,
        timezone: str = "Europe/London",
        history_days: int = DEFAULT_HISTORY_DAYS,
        host: str = "127.0.0.1",
        lemlist_port: int = 0,
        kit_port: int = 0,
        team: DemoTeam = DEMO_TEAM,
        vendors: Iterable[str] = (),
        vendor_ports: Mapping[str, int] | None = None,
        vendor_events: Mapping[str, Sequence[Any]] | None = None,
        outages: Mapping[str, Outages] | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        zone = ZoneInfo(timezone)
        if activity is None:
            today = self.clock.now().astimezone(zone).date()
            activity = GeneratedActivity(seed, today - timedelta(days=history_days), zone, team)
        self.activity = activity
        self.team = team
        self.lemlist_api_key = DEMO_LEMLIST_API_KEY
        self.kit_api_key = DEMO_KIT_API_KEY
        self._host = host
        self._ports = {"lemlist": lemlist_port, "kit": kit_port}
        self._apps = {
            "lemlist": LemlistFake(activity, self.clock, self.lemlist_api_key, team).app(),
            "kit": KitFake(activity, self.clock, self.kit_api_key, team).app(),
        }
        today = self.clock.now().astimezone(zone).date()
        self.api_keys: dict[str, str] = {"lemlist": self.lemlist_api_key, "kit": self.kit_api_key}
        for name in vendors:
            vendor = VENDORS[name]
            if vendor_events is not None:
                events: Sequence[Any] = vendor_events.get(name, ())
            else:
                # Generated ahead of today too: the fakes serve nothing after the clock's now,
                # so a long-running demo keeps receiving fresh activity.
                events = vendor.demo_events(
                    seed, today - timedelta(days=history_days), today + timedelta(days=FUTURE_DAYS), zone
                )
            self.api_keys[name] = demo_api_key(name)
            self._apps[name] = vendor.build(events, self.clock, self.api_keys[name]).app()
            self._ports[name] = (vendor_ports or {}).get(name, 0)
        for name, schedule in (outages or {}).items():
            # Outermost, so a call in an outage is refused before auth or rate limits count it.
            self._apps[name].middlewares.insert(0, outage_middleware(schedule, self.clock))
        self.outages: dict[str, Outages] = dict(outages or {})
        self._runners: dict[str, web.AppRunner] = {}
        self._bound: dict[str, int] = {}

    async def start(self) -> None:
        """Start both servers; safe to call once."""
        for name, app in self._apps.items():
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            self._runners[name] = runner
            await web.TCPSite(runner, self._host, self._ports[name]).start()
            self._bound[name] = int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop both servers."""
        for runner in self._runners.values():
            await runner.cleanup()
        self._runners.clear()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def lemlist_url(self) -> str:
        """The lemlist API root, ending in `/api` (what `base_url` takes)."""
        return f"http://{self._host}:{self._port('lemlist')}/api"

    @property
    def kit_url(self) -> str:
        """The Kit API root, ending in `/v4` (what `base_url` takes)."""
        return f"http://{self._host}:{self._port('kit')}/v4"

    def url(self, name: str) -> str:
        """Return a started fake's API root (what `base_url` takes), e.g. `http://127.0.0.1:9473/2` for X."""
        root = {"lemlist": "/api", "kit": "/v4"}.get(name) or VENDORS[name].api_root
        return f"http://{self._host}:{self._port(name)}{root}"

    @property
    def names(self) -> list[str]:
        """Return the names of the fakes this sandbox runs."""
        return list(self._apps)

    def _port(self, name: str) -> int:
        if name not in self._bound:
            raise RuntimeError("the sandbox is not started")
        return self._bound[name]
