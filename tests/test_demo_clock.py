"""The demo moves: a simulated clock shared by the fakes, the daemon and the commands beside it.

Real time is injected (a counter that sleeping advances), so nothing here waits for the clock.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx
from click.testing import CliRunner
from prometheus_client import generate_latest

from syncd.cli.main import main
from syncd.clock import RealWaits, ScaledClock, SystemClock
from syncd.config import parse_config
from syncd.model import Config
from syncd.run.daemon import Daemon
from syncd.run.demo import FAILING_VENDOR, SimulatedTimeFormatter, clock_banner, demo_start, failing_banner
from syncd.run.demo_clock import DemoTimeline, clock_for_database, demo_clock_path, read_timeline, write_timeline
from syncd.sandbox.outages import Outages
from syncd.sandbox.server import DEMO_LEMLIST_API_KEY, Sandbox
from syncd.sandbox.vendors import VENDORS
from syncd.serve.exposition import build_registry
from syncd.serve.status_page import goal_state
from syncd.store import create_engine_for, upgrade
from tests.fakes import make_config
from tests.test_backfill import MAILSHAKE_CONFIG  # a vendor that never answers (port 9)

DEMO = Path(__file__).resolve().parent.parent / "syncd" / "sandbox" / "demo.yaml"
LONDON = ZoneInfo("Europe/London")
# Tuesday 24 November 2026, 09:00 in London (GMT): a working morning.
TUESDAY_9 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@dataclass
class RealTime:
    """Stands in for the real monotonic clock and asyncio.sleep: sleeping moves it, nothing waits."""

    t: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds

    def advance(self, seconds: float) -> None:
        self.t += seconds


def scaled(start: datetime, speed: float, real: RealTime) -> ScaledClock:
    return ScaledClock(start, speed, real_monotonic=real.monotonic, real_sleep=real.sleep)


def demo_config(sandbox: Sandbox | None = None) -> Config:
    env: dict[str, str] = {}
    if sandbox is not None:
        env = {"SYNCD_DEMO_LEMLIST_URL": sandbox.lemlist_url, "SYNCD_DEMO_KIT_URL": sandbox.kit_url}
        env |= {f"SYNCD_DEMO_{name.upper()}_URL": sandbox.url(name) for name in VENDORS}
    return parse_config(DEMO.read_text(encoding="utf-8"), file=str(DEMO), environ=env)


# --- the clock -------------------------------------------------------------------------------


def test_the_scaled_clock_advances_speed_times_real_time() -> None:
    real = RealTime()
    clock = scaled(TUESDAY_9, 60, real)
    assert clock.now() == TUESDAY_9
    real.advance(10)
    assert clock.now() == TUESDAY_9 + timedelta(minutes=10)
    assert clock.monotonic() == 600.0
    real.advance(0.5)
    assert clock.now() == TUESDAY_9 + timedelta(minutes=10, seconds=30)


async def test_a_simulated_wait_takes_speed_times_less_real_time() -> None:
    real = RealTime()
    clock = scaled(TUESDAY_9, 60, real)
    await clock.sleep(300)  # a 5m interval
    assert real.slept == [5.0]
    assert clock.now() == TUESDAY_9 + timedelta(minutes=5)
    await clock.sleep(-3)
    assert real.slept[-1] == 0.0


async def test_a_periodic_wait_has_a_real_floor_a_sync_interval_does_not() -> None:
    real = RealTime()
    fast = scaled(TUESDAY_9, 1440, real)
    await fast.sleep_periodic(15)  # the evaluation tick: 10 ms of real time without the floor
    await fast.sleep(60)  # lemlist's 1m interval: the demo's sync schedule stays simulated
    await fast.sleep(1)  # the refresher's pause: a sync waits for its evaluation, so not floored either
    assert real.slept == [1.0, 60 / 1440, 1 / 1440]
    real.slept.clear()
    default = scaled(TUESDAY_9, 60, real)
    await default.sleep_periodic(15)
    await default.sleep_periodic(3600)  # retention's hour: a real minute, above the floor
    await default.sleep_periodic(0.25)  # retention's pause between batches: its real length, never longer
    await default.sleep_periodic(-1)
    assert real.slept == [1.0, 60.0, 0.25, 0.0]
    real.slept.clear()
    await scaled(TUESDAY_9, 1, real).sleep_periodic(15)
    assert real.slept == [15.0]


def test_speed_one_is_real_time() -> None:
    real = RealTime()
    clock = scaled(TUESDAY_9, 1, real)
    real.advance(42)
    assert clock.now() == TUESDAY_9 + timedelta(seconds=42)


def test_the_scaled_clock_refuses_slow_motion_and_naive_starts() -> None:
    with pytest.raises(ValueError, match="speed must be at least 1"):
        ScaledClock(TUESDAY_9, 0.5)
    with pytest.raises(ValueError, match="aware"):
        ScaledClock(datetime(2026, 11, 24, 9), 60)  # noqa: DTZ001 (the point of the test)


# --- where a demo starts ------------------------------------------------------------------------


def test_a_fast_demo_started_on_a_friday_evening_begins_on_monday_morning() -> None:
    config = demo_config()
    friday_evening = datetime(2026, 11, 27, 20, 30, tzinfo=UTC)
    assert demo_start(config, 60, friday_evening, None) == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    # Before 08:00 on a working day: that same morning.
    early = datetime(2026, 11, 24, 5, 10, tzinfo=UTC)
    assert demo_start(config, 60, early, None) == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    # In working hours it starts now; at real speed it always starts now.
    assert demo_start(config, 60, TUESDAY_9, None) == TUESDAY_9
    assert demo_start(config, 1, friday_evening, None) == friday_evening


def test_the_demo_skips_the_configured_holidays() -> None:
    config = demo_config()  # holidays 2026-12-25, 2026-12-28
    christmas_eve_night = datetime(2026, 12, 24, 19, 0, tzinfo=UTC)
    assert demo_start(config, 60, christmas_eve_night, None) == datetime(2026, 12, 29, 8, 0, tzinfo=UTC)


def test_a_restarted_demo_resumes_its_simulated_time_never_going_back() -> None:
    config = demo_config()
    # The last demo stopped two simulated days ahead of real time.
    stopped = DemoTimeline(real=TUESDAY_9, simulated=TUESDAY_9 + timedelta(days=2), speed=0.0)
    assert demo_start(config, 60, TUESDAY_9 + timedelta(hours=1), stopped) == TUESDAY_9 + timedelta(days=2)
    # Once real time has overtaken it, real now.
    later = TUESDAY_9 + timedelta(days=3)
    assert demo_start(config, 60, later, stopped) == later
    # A demo that was killed while running: where its clock would be now, at its speed.
    killed = DemoTimeline(real=TUESDAY_9, simulated=TUESDAY_9, speed=60.0)
    assert demo_start(config, 60, TUESDAY_9 + timedelta(minutes=3), killed) == TUESDAY_9 + timedelta(hours=3)


# --- the clock shared with the commands ---------------------------------------------------------


def test_the_timeline_file_sits_beside_a_sqlite_file_only(tmp_path: Path) -> None:
    assert demo_clock_path(f"sqlite:///{tmp_path}/syncd-demo.db") == tmp_path / "syncd-demo.db-clock.json"
    assert demo_clock_path("sqlite:///syncd-demo.db") == Path("syncd-demo.db-clock.json")
    assert demo_clock_path("sqlite://") is None
    assert demo_clock_path("sqlite:///:memory:") is None
    assert demo_clock_path("postgresql+psycopg://u@db/syncd") is None


def test_a_command_beside_a_running_demo_shares_its_simulated_now(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    assert isinstance(clock_for_database(url), SystemClock)
    real_start = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
    write_timeline(demo_clock_path(url) or Path(), DemoTimeline(real_start, TUESDAY_9, 60.0))
    clock = clock_for_database(url, real_now=lambda: real_start + timedelta(minutes=2))
    assert isinstance(clock, ScaledClock)
    assert clock.speed == 60.0
    assert clock.start == TUESDAY_9 + timedelta(hours=2)
    # Stopped: simulated time stands where the demo stopped, and runs at real speed from there.
    write_timeline(demo_clock_path(url) or Path(), DemoTimeline(real_start, TUESDAY_9, 0.0))
    clock = clock_for_database(url, real_now=lambda: real_start + timedelta(minutes=2))
    assert isinstance(clock, ScaledClock)
    assert (clock.start, clock.speed) == (TUESDAY_9, 1.0)


def test_an_unreadable_timeline_file_means_real_time(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "demo.db-clock.json"
    path.write_text('{"real": "yesterday"}', encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert read_timeline(path) is None
    assert "using real time" in caplog.text
    path.write_text(json.dumps({"real": "2026-11-24T09:00:00", "simulated": "2026-11-24T09:00:00", "speed": 60}))
    assert read_timeline(path) is None  # naive instants: no timeline
    assert isinstance(clock_for_database(f"sqlite:///{tmp_path / 'demo.db'}"), SystemClock)


def test_record_beside_the_demo_writes_on_the_simulated_day(tmp_path: Path) -> None:
    db = tmp_path / "syncd-demo.db"
    config = tmp_path / "syncd.yaml"
    config.write_text(
        f"database_url: sqlite:///{db}\npeople:\n  carol: {{identities: {{interviews: carol@acme.io}}}}\n"
        "sources:\n  interviews: {connector: push, token: demo-push-token-0000-0000}\n"
    )
    # Real time is whatever it is; the demo is three simulated days ahead of it.
    now = datetime.now(UTC)
    ahead = now + timedelta(days=3)
    write_timeline(Path(f"{db}-clock.json"), DemoTimeline(now, ahead, 0.0))
    args = ["--source", "interviews", "--metric", "interviews", "--subject", "carol@acme.io", "--value", "2"]
    result = CliRunner().invoke(main, ["record", *args, "--config", str(config)])
    assert result.exit_code == 0, result.output
    simulated_day = ahead.astimezone(LONDON).date()
    assert f"on {simulated_day.isoformat()}" in result.output
    # --since up to the simulated today is a valid backfill start beside the demo.
    assert simulated_day > now.astimezone(LONDON).date()


# --- the sandbox on the simulated clock ---------------------------------------------------------


async def test_the_sandbox_serves_more_activity_as_simulated_time_passes() -> None:
    real = RealTime()
    clock = scaled(TUESDAY_9, 60, real)
    auth = {"Authorization": "Basic " + base64.b64encode(f":{DEMO_LEMLIST_API_KEY}".encode()).decode()}
    params = {"type": "emailsSent", "minDate": "2026-11-24T00:00:00.000Z", "limit": "100"}
    async with Sandbox(clock=clock) as sandbox, httpx.AsyncClient() as http:
        first = (await http.get(f"{sandbox.lemlist_url}/activities", params=params, headers=auth)).json()
        real.advance(3 * 60)  # three real minutes: three simulated hours at 60x
        later = (await http.get(f"{sandbox.lemlist_url}/activities", params=params, headers=auth)).json()
    assert len(later) > len(first) + 5, (len(first), len(later))
    newest = max(datetime.fromisoformat(a["createdAt"].replace("Z", "+00:00")) for a in later)
    assert TUESDAY_9 < newest <= TUESDAY_9 + timedelta(hours=3)


def test_outage_windows_are_seeded_per_day_within_working_hours() -> None:
    outages = Outages(42, LONDON)
    windows = [outages.window(date(2026, 11, 2) + timedelta(days=n)) for n in range(30)]
    assert windows == [Outages(42, LONDON).window(date(2026, 11, 2) + timedelta(days=n)) for n in range(30)]
    assert windows != [Outages(7, LONDON).window(date(2026, 11, 2) + timedelta(days=n)) for n in range(30)]
    for start, end in windows:
        assert 8 <= start.astimezone(LONDON).hour <= 16
        assert end - start == timedelta(hours=2)
    start, end = windows[0]
    assert not outages.down_at(start - timedelta(seconds=1))
    assert outages.down_at(start)
    assert outages.down_at(end - timedelta(seconds=1))
    assert not outages.down_at(end)
    # Down two hours in every 24: a twelfth of the time.
    hours = [datetime(2026, 11, 2, tzinfo=UTC) + timedelta(minutes=10 * n) for n in range(6 * 24 * 30)]
    assert sum(outages.down_at(h) for h in hours) == 12 * 30


async def test_the_failing_fake_answers_503_in_its_window_and_its_probe_stays_up() -> None:
    real = RealTime()
    outages = Outages(42, LONDON)
    start, _ = outages.window(TUESDAY_9.date())
    clock = scaled(start - timedelta(minutes=30), 60, real)
    headers = {"Authorization": "Bearer " + "demo-http-json-key-0000-us1"}
    async with (
        Sandbox(clock=clock, vendors=[FAILING_VENDOR], outages={FAILING_VENDOR: outages}) as sandbox,
        httpx.AsyncClient() as http,
    ):
        url = f"{sandbox.url(FAILING_VENDOR)}/v1/calls"
        before = await http.get(url, headers=headers)
        real.advance(31)  # 31 simulated minutes later: a minute into the outage
        during = await http.get(url, headers=headers)
        probe = await http.get(sandbox.url(FAILING_VENDOR) + "/_sandbox/health")
        real.advance(120)
        after = await http.get(url, headers=headers)
    assert (before.status_code, during.status_code, after.status_code) == (200, 503, 200)
    assert during.json()["error"] == "service_unavailable"
    assert probe.status_code == 200


# --- the daemon on the simulated clock ----------------------------------------------------------


@pytest.fixture
async def demo_daemon(tmp_path: Path) -> AsyncIterator[tuple[Daemon, RealTime, Outages]]:
    """The demo's configuration, sandbox and daemon on one scaled clock, 30 minutes before an outage."""
    real = RealTime()
    outages = Outages(42, LONDON)
    outage_start, _ = outages.window(TUESDAY_9.date())
    clock = scaled(outage_start - timedelta(minutes=30), 60, real)
    engine = create_engine_for(f"sqlite:///{tmp_path / 'demo.db'}")
    upgrade(engine)
    async with Sandbox(clock=clock, vendors=list(VENDORS), outages={FAILING_VENDOR: outages}) as sandbox:
        daemon = Daemon(demo_config(sandbox), engine, clock=clock)
        await daemon.start()
        yield daemon, real, outages
        await daemon.connectors.aclose()
    engine.dispose()


def _goal(daemon: Daemon, kpi: str, owner: str) -> tuple[float, float, str]:
    goal = next(g for g in daemon.holder.current.goals if (g.kpi, g.owner) == (kpi, owner))
    return goal.value, goal.figures.expected, goal.period


async def test_a_daemon_tick_under_the_scaled_clock_moves_the_goals(
    demo_daemon: tuple[Daemon, RealTime, Outages],
) -> None:
    daemon, real, _ = demo_daemon
    lemlist = daemon.config.sources["lemlist"]
    assert (await daemon.sync_once(lemlist)).ok
    value, expected, _ = _goal(daemon, "outreach_emails_sent", "alice")
    real.advance(60)  # one real minute: a simulated hour of a working day
    await daemon.tick()
    ticked_value, ticked_expected, _ = _goal(daemon, "outreach_emails_sent", "alice")
    # The curve moved on its own: an hour of alice's 400 over 21 working days (~0.8 emails).
    assert ticked_value == value
    assert 0.5 < ticked_expected - expected < 1.2, (expected, ticked_expected)
    assert (await daemon.sync_once(lemlist)).ok
    synced_value, _, _ = _goal(daemon, "outreach_emails_sent", "alice")
    assert synced_value > value, "an hour of alice's sending arrived"


async def test_the_failing_source_goes_down_in_its_outage_and_recovers(
    demo_daemon: tuple[Daemon, RealTime, Outages],
) -> None:
    daemon, real, _ = demo_daemon
    calls = daemon.config.sources["calls"]

    def health() -> tuple[bool | None, str]:
        snapshot = daemon.holder.current
        sources = {s.name: s for s in snapshot.sources}
        goal = next(g for g in snapshot.goals if g.kpi == "calls_held")
        return sources["calls"].up, goal_state(goal, sources, snapshot.generated_at)

    assert (await daemon.sync_once(calls)).ok
    up, state = health()
    assert up is True
    assert state != "source_down"
    real.advance(35)  # 35 simulated minutes on: five into the outage
    outcome = await daemon.sync_once(calls)
    assert (outcome.ok, outcome.reason) == (False, "unavailable"), outcome
    assert health() == (False, "source_down"), "down, not a shortfall"
    real.advance(2 * 60)  # two simulated hours on: the outage is over
    assert (await daemon.sync_once(calls)).ok
    assert health()[0] is True
    assert health()[1] != "source_down"


async def test_days_roll_over_in_simulated_time(tmp_path: Path) -> None:
    real = RealTime()
    # Sunday 29 November 2026, 23:50 in London: ten simulated minutes before a new week.
    clock = scaled(datetime(2026, 11, 29, 23, 50, tzinfo=UTC), 60, real)
    engine = create_engine_for(f"sqlite:///{tmp_path / 'demo.db'}")
    upgrade(engine)
    async with Sandbox(clock=clock, vendors=list(VENDORS)) as sandbox:
        daemon = Daemon(demo_config(sandbox), engine, clock=clock)
        await daemon.start()
        assert (await daemon.sync_once(daemon.config.sources["lemlist"])).ok
        await daemon.record_checkins()
        _, _, before = _goal(daemon, "calls_held", "alice")
        weeks_judged = {
            r.checkpoint for r in daemon.checkin_results if (r.kpi, r.owner) == ("outreach_emails_sent", "bob")
        }
        real.advance(20)  # 20 simulated minutes: Monday 00:10
        await daemon.tick()
        await daemon.record_checkins()
        _, _, after = _goal(daemon, "calls_held", "alice")
        judged = {
            r.checkpoint: r for r in daemon.checkin_results if (r.kpi, r.owner) == ("outreach_emails_sent", "bob")
        }
        await daemon.connectors.aclose()
    engine.dispose()
    assert (before, after) == ("2026-W48", "2026-W49")
    closed = set(judged) - weeks_judged
    assert len(closed) == 1, (weeks_judged, set(judged))
    week = judged[closed.pop()]
    assert week.last_day == date(2026, 11, 29)
    # bob, the slipping one, is far short of it (missed once its days are all synced; only the
    # lookback is here, so the days before it are unknown, not zero).
    assert week.value < 0.75 * week.target, week
    assert week.outcome in ("missed", "incomplete"), week


@dataclass
class ParkedLoops(RealTime):
    """Real time for a running daemon: a wait of `park_from` real seconds or more never ends.

    Shorter waits return at once (moving real time), so the sources sync on their simulated
    schedule while every loop whose wait is floored stays parked on its first one.
    """

    park_from: float = 0.5
    parked: list[float] = field(default_factory=list)

    async def sleep(self, seconds: float) -> None:
        if seconds >= self.park_from:
            self.parked.append(seconds)
            await asyncio.Event().wait()
        await super().sleep(seconds)
        await asyncio.sleep(0)  # the other tasks run, as they would while real time passes


async def test_the_demos_periodic_loops_wait_a_real_second_while_sources_keep_their_schedule(tmp_path: Path) -> None:
    real = ParkedLoops()
    clock = scaled(TUESDAY_9, 1440, real)
    engine = create_engine_for(f"sqlite:///{tmp_path / 'demo.db'}")
    upgrade(engine)
    async with Sandbox(clock=clock) as sandbox:
        config = make_config(
            f"""
timezone: Europe/London
auto_backfill: false
people: {{alice: {{identities: {{lemlist: alice@acme.io}}}}}}
sources:
  lemlist: {{connector: lemlist, api_key: "{sandbox.lemlist_api_key}", base_url: "{sandbox.lemlist_url}", interval: 1m}}
kpis: {{emails: {{source: lemlist, metric: emails_sent, per_person: true}}}}
goals:
  - {{kpi: emails, owner: alice, period: month, target: 400}}
"""
        )
        daemon = Daemon(config, engine, clock=clock)
        ticks: list[float] = []
        tick = daemon.tick

        async def counted_tick() -> None:
            ticks.append(real.t)
            await tick()

        daemon.tick = counted_tick  # type: ignore[method-assign]
        stop = asyncio.Event()
        running = asyncio.create_task(daemon.run(stop, serve=False))
        async with asyncio.timeout(60):
            while daemon.stats["lemlist"].syncs_total < 5:  # noqa: ASYNC110 (the daemon has no event for it)
                await asyncio.sleep(0.01)
        stop.set()
        await running
        await daemon.connectors.aclose()
    engine.dispose()
    # The evaluation tick (15 s), retention's first round (60 s) and the idle backfill (60 s, woken
    # again after each sync) each wait one real second: at 1440x they were 10 ms, 42 ms and 42 ms.
    assert len(real.parked) >= 3
    assert set(real.parked) == {1.0}
    # Five syncs are four intervals: more than 3.6 simulated minutes, over 14 ticks of 15 s before the
    # floor, none now within the first real second.
    assert real.t - 1000.0 > 4 * 0.9 * 60 / 1440
    assert ticks == []
    # Meanwhile lemlist synced on its simulated minute (±10% jitter): 1/24 of a real second apart.
    intervals = [s for s in real.slept if 0.03 < s < 0.5]
    assert len(intervals) >= 4
    assert all(0.9 * 60 / 1440 <= s <= 1.1 * 60 / 1440 for s in intervals), intervals


async def test_the_demos_sync_durations_are_published_in_real_seconds(tmp_path: Path) -> None:
    real = RealTime()
    clock = scaled(TUESDAY_9, 60, real)
    engine = create_engine_for(f"sqlite:///{tmp_path / 'demo.db'}")
    upgrade(engine)
    daemon = Daemon(make_config(MAILSHAKE_CONFIG), engine, clock=clock)

    def answer_in_a_tenth_of_a_second(request: httpx.Request) -> httpx.Response:
        real.advance(0.1)
        return httpx.Response(200, json={"nextToken": "", "results": []})

    with respx.mock(assert_all_called=True) as router:
        router.get("http://127.0.0.1:9/ms/activity/sent").mock(side_effect=answer_in_a_tenth_of_a_second)
        router.get("http://127.0.0.1:9/ms/activity/replies").mock(side_effect=answer_in_a_tenth_of_a_second)
        outcome = await daemon.sync_once(daemon.config.sources["mailshake"])
    await daemon.connectors.aclose()
    engine.dispose()
    assert outcome.ok, outcome
    # Two calls of 0.1 real s: 12 simulated seconds at 60x, published as the 0.2 s they took.
    assert clock.monotonic() == pytest.approx(12.0)
    assert outcome.duration == pytest.approx(0.2)
    exposition = generate_latest(build_registry(daemon.holder)).decode()
    count = 'syncd_source_sync_duration_seconds_count{connector="mailshake",source="mailshake"} 1.0'
    assert count in exposition
    summed = re.search(
        r'syncd_source_sync_duration_seconds_sum\{connector="mailshake",source="mailshake"\} (\S+)', exposition
    )
    assert summed is not None
    assert float(summed.group(1)) == pytest.approx(0.2)
    assert (
        'syncd_source_sync_duration_seconds_bucket{connector="mailshake",le="0.25",source="mailshake"} 1.0'
        in exposition
    )


def test_the_banner_names_the_speed_the_simulated_now_and_the_failing_source() -> None:
    real = RealTime()
    config = demo_config()
    clock = scaled(TUESDAY_9, 60, real)
    assert clock_banner(clock, config) == (
        "simulated, 60x real time (1 simulated minute per real second), now Tue 24 Nov 2026 09:00 GMT"
    )
    assert clock_banner(scaled(TUESDAY_9, 1, real), config) == "real time (--speed 1), now Tue 24 Nov 2026 09:00 GMT"
    sandbox = Sandbox(clock=clock, vendors=[FAILING_VENDOR], outages={FAILING_VENDOR: Outages(42, LONDON)})
    start, end = Outages(42, LONDON).window(TUESDAY_9.date())
    assert failing_banner(sandbox, config) == (
        f"calls: its API is down 2 h a day at a seeded hour (today {start:%H:%M}-{end:%H:%M}), "
        "to show a source down and recovering"
    )


def test_demo_help_and_speed_bounds() -> None:
    help_text = CliRunner().invoke(main, ["demo", "--help"]).output
    assert "--speed" in help_text
    assert "[default: 60" in help_text
    refused = CliRunner().invoke(main, ["demo", "--speed", "0.5"])
    assert refused.exit_code == 2
    assert "--speed" in refused.output


def test_the_demos_log_lines_carry_the_simulated_time() -> None:
    real = RealTime()
    clock = scaled(TUESDAY_9, 60, real)
    real.advance(90)  # a simulated hour and a half
    record = logging.LogRecord("syncd.run.sync", logging.WARNING, __file__, 1, "sync of calls failed", None, None)
    line = SimulatedTimeFormatter(clock, LONDON).format(record)
    assert line == "2026-11-24 10:30:00 GMT WARNING syncd.run.sync: sync of calls failed"


# --- backfill beside the demo -------------------------------------------------------------------


async def test_real_waits_keeps_the_simulated_now_but_waits_and_times_in_real_seconds() -> None:
    real = RealTime()
    clock = RealWaits(scaled(TUESDAY_9, 60, real), real_monotonic=real.monotonic, real_sleep=real.sleep)
    started = clock.monotonic()
    await clock.sleep(30)
    # A 30 s rate-limit wait is 30 s the person watches, and the window's end moved 30 minutes.
    assert real.slept == [30]
    assert clock.monotonic() - started == 30
    assert clock.now() == TUESDAY_9 + timedelta(minutes=30)


def beside_a_running_demo(tmp_path: Path) -> tuple[Path, datetime]:
    """Write a config on a database whose demo runs at 60x, three simulated days ahead; return it and real now."""
    db = tmp_path / "demo.db"
    config = tmp_path / "syncd.yaml"
    config.write_text(
        f"database_url: sqlite:///{db}\ntimezone: Europe/London\n"
        "sources:\n  interviews: {connector: push, token: demo-push-token-0000-0000}\n"
    )
    now = datetime.now(UTC)
    write_timeline(Path(f"{db}-clock.json"), DemoTimeline(now, now + timedelta(days=3), 60.0))
    return config, now


def test_backfill_beside_a_running_demo_reads_in_real_seconds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import syncd.run.backfill as backfill_module

    config, now = beside_a_running_demo(tmp_path)
    seen: list[object] = []

    def fake_run_backfill(*args: object, clock: object, **kwargs: object) -> object:
        seen.append(clock)
        raise SystemExit(0)

    monkeypatch.setattr(backfill_module, "run_backfill", fake_run_backfill)
    since = (now + timedelta(days=2)).astimezone(LONDON).date().isoformat()
    result = CliRunner().invoke(main, ["backfill", "--since", since, "--config", str(config)])
    assert result.exit_code == 0, result.output
    (clock,) = seen
    assert isinstance(clock, RealWaits)
    # Two simulated days ahead of real time is still "today or before" on the demo's clock.
    assert clock.now() > now + timedelta(days=2)


def test_sync_once_beside_a_running_demo_reads_in_real_seconds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import syncd.run.sync as sync_module

    config, now = beside_a_running_demo(tmp_path)
    seen: list[object] = []

    async def fake_sync_source(config: object, source: object, engine: object, clock: object, stats: object) -> object:
        seen.append(clock)
        return sync_module.SyncOutcome(source="interviews", ok=True, window=None, duration=2.0)

    monkeypatch.setattr(sync_module, "sync_source", fake_sync_source)
    result = CliRunner().invoke(main, ["sync", "--once", "--config", str(config)])
    assert result.exit_code == 0, result.output
    (clock,) = seen
    # A sync's duration is timed on the clock's monotonic: a ScaledClock's would say 60 s for one.
    assert isinstance(clock, RealWaits)
    # Its windows still end at the demo's simulated now, three days ahead of real time.
    assert clock.now() > now + timedelta(days=2)
