"""The push connector, its endpoint and `syncd record`, against a Daemon on SQLite."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import Engine

from connectors.base import ConnectorContext, SyncWindow
from connectors.push import PushConnector, PushSettings
from syncd.config import parse_config
from syncd.engine.snapshot import GoalStatus
from syncd.errors import ConfigError
from syncd.model import Config
from syncd.run.daemon import Daemon
from syncd.run.record import record_observation
from syncd.serve.push import push_routes
from syncd.serve.web import build_app
from syncd.store import create_engine_for, load_daily_counts, upgrade

TOKEN = "calls-token-0123456789abcdef"
LONDON = ZoneInfo("Europe/London")
# Sunday 29 March 2026: London moves from GMT to BST at 01:00 UTC.
NOW = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
URL = "/api/v1/sources/calls/observations"

Client = TestClient[web.Request, web.Application]

CONFIG = """
timezone: Europe/London
teams:
  recruiting: {head: sam}
people:
  sam: {team: recruiting}
  alice:
    team: recruiting
    identities: {calls: alice}
sources:
  calls:
    connector: push
    token: ${CALLS_TOKEN}
  lemlist:
    connector: lemlist
    api_key: lem-secret-123456
kpis:
  calls_held:
    source: calls
    metric: calls_held
    per_person: true
goals:
  - kpi: calls_held
    owner: alice
    period: month
    target: 40
"""


class FixedClock:
    """A clock standing still at `instant`; nothing here sleeps."""

    def __init__(self, instant: datetime) -> None:
        self.instant = instant

    def now(self) -> datetime:
        return self.instant

    def monotonic(self) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:
        return None


@pytest.fixture
def config() -> Config:
    return parse_config(CONFIG, file="syncd.yaml", environ={"CALLS_TOKEN": TOKEN})


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'syncd.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def daemon(config: Config, engine: Engine) -> Daemon:
    return Daemon(config, engine, clock=FixedClock(NOW), extra_routes=push_routes)


@pytest.fixture
async def client(daemon: Daemon) -> AsyncIterator[Client]:
    async with TestClient(TestServer(build_app(daemon.web_state))) as test_client:
        yield test_client


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def stored(engine: Engine, metric: str = "calls_held") -> dict[str, dict[date, float]]:
    counts = load_daily_counts(
        engine, keys=[("calls", metric)], first_day=date(2026, 1, 1), last_day=date(2026, 12, 31)
    )
    return counts[("calls", metric)]


def item(**fields: object) -> dict[str, object]:
    return {"metric": "calls_held", "subject": "alice", "day": "2026-03-27", "value": 3, **fields}


# --- authentication and routing ---------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer("calls-token-0123456789abcdeX"),  # same length, last character wrong
        bearer("short"),
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ],
    ids=["none", "wrong", "wrong-length", "basic-scheme", "no-scheme"],
)
async def test_a_missing_or_wrong_token_is_401_and_stores_nothing(
    client: Client, engine: Engine, headers: dict[str, str]
) -> None:
    response = await client.post(URL, json={"observations": [item()]}, headers=headers)

    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="syncd"'
    assert await response.json() == {"error": "a valid bearer token is required"}
    assert stored(engine) == {}


async def test_the_right_token_stores_the_batch(client: Client, engine: Engine) -> None:
    response = await client.post(
        URL,
        json={"observations": [item(), item(subject="bob", value=2.5), item(day="2026-03-28", value=1)]},
        headers={"Authorization": f"bearer  {TOKEN}"},  # the scheme is case-insensitive
    )

    assert response.status == 200
    assert await response.json() == {"stored": 3, "duplicates": 0}
    assert stored(engine) == {
        "alice": {date(2026, 3, 27): 3.0, date(2026, 3, 28): 1.0},
        "bob": {date(2026, 3, 27): 2.5},
    }


@pytest.mark.parametrize("name", ["nosuch", "lemlist"])
async def test_an_unknown_or_pulled_source_is_404(client: Client, name: str) -> None:
    response = await client.post(
        f"/api/v1/sources/{name}/observations", json={"observations": [item()]}, headers=bearer()
    )

    assert response.status == 404
    assert await response.json() == {"error": f"no push source named {name!r}"}


async def test_the_token_never_reaches_the_log(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    near_miss = TOKEN[:-1] + "Z"

    await client.post(URL, json={"observations": [item()]}, headers=bearer(near_miss))
    ok = await client.post(URL, json={"observations": [item()]}, headers=bearer())

    assert ok.status == 200
    assert "push to calls: 1 stored, 0 duplicates" in caplog.text
    assert TOKEN not in caplog.text
    assert near_miss not in caplog.text


# --- validation: the whole batch or nothing ---------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        (item(value=-1), "observations[3].value: Input should be greater than or equal to 0"),
        (item(value="3"), "observations[3].value: Input should be a valid number"),
        (item(value=True), "observations[3].value: Input should be a valid number"),
        (item(day="27/03/2026"), "observations[3].day: must be a day as YYYY-MM-DD"),
        (item(day=20260327), "observations[3].day: must be a day as YYYY-MM-DD"),
        (
            item(day="2026-02-30"),
            "observations[3].day: Input should be a valid date or datetime, day value is outside expected range",
        ),
        (
            item(day=None, at="2026-03-27T10:00:00"),
            "observations[3].at: Input should have timezone info",
        ),
        (
            item(at="2026-03-27T10:00:00Z"),
            "observations[3]: give exactly one of day (YYYY-MM-DD) or at (an ISO-8601 instant)",
        ),
        (
            {"metric": "calls_held", "value": 1},
            "observations[3]: give exactly one of day (YYYY-MM-DD) or at (an ISO-8601 instant)",
        ),
        (
            item(mode="add"),
            "observations[3]: mode add needs a key: the client's idempotency key, so a retry is not added twice",
        ),
        (item(mode="replace"), "observations[3].mode: Input should be 'set' or 'add'"),
        (item(metric="  "), "observations[3].metric: String should have at least 1 character"),
        ({"subject": "alice", "day": "2026-03-27", "value": 1}, "observations[3].metric: missing required key"),
        (item(colour="red"), "observations[3].colour: unknown key"),
    ],
)
async def test_one_bad_item_rejects_the_batch_naming_it(
    client: Client, engine: Engine, bad: dict[str, object], problem: str
) -> None:
    batch = [item(), item(mode="add", key="k1"), item(subject="bob"), bad, item(day="2026-03-28")]

    response = await client.post(URL, json={"observations": batch}, headers=bearer())

    assert response.status == 422
    assert await response.json() == {"error": problem, "problems": [problem]}
    assert stored(engine) == {}


async def test_every_problem_is_listed(client: Client) -> None:
    batch = [item(value=-1), item(), item(mode="sum")]

    response = await client.post(URL, json={"observations": batch}, headers=bearer())

    assert response.status == 422
    assert (await response.json())["problems"] == [
        "observations[0].value: Input should be greater than or equal to 0",
        "observations[2].mode: Input should be 'set' or 'add'",
    ]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"{not json", 400, "the body is not valid JSON"),
        (b'{"observations": {"metric": "x"}}', 422, "observations: Input should be a valid list"),
        (b"[]", 422, "Input should be a valid dictionary or instance of ObservationBatch"),
        (b"{}", 422, "observations: missing required key"),
    ],
)
async def test_a_malformed_body_is_refused(client: Client, body: bytes, status: int, error: str) -> None:
    response = await client.post(URL, data=body, headers=bearer())

    assert response.status == status
    assert (await response.json())["error"] == error


async def test_a_batch_over_ten_thousand_items_is_refused(client: Client, engine: Engine) -> None:
    small = {"metric": "m", "day": "2026-03-27", "value": 1}  # ~50 bytes: 10,001 fit in 1 MiB

    response = await client.post(URL, json={"observations": [small] * 10_001}, headers=bearer())

    assert response.status == 422
    assert (await response.json())[
        "error"
    ] == "observations: List should have at most 10000 items after validation, not 10001"
    assert stored(engine, "m") == {}


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_over_one_mebibyte_is_413(client: Client, engine: Engine, chunked: bool) -> None:
    body = json.dumps({"observations": [item(subject="x" * 400)] * 2500}).encode()
    assert len(body) > 1024 * 1024

    async def pieces() -> AsyncIterator[bytes]:
        # No Content-Length: the limit must hold while reading the stream too.
        for start in range(0, len(body), 100_000):
            yield body[start : start + 100_000]

    payload = pieces() if chunked else io.BytesIO(body)
    response = await client.post(URL, data=payload, headers=bearer())

    assert response.status == 413
    assert (await response.json())["error"] == "the body is larger than 1048576 bytes: send smaller batches"
    assert stored(engine) == {}


# --- idempotency --------------------------------------------------------------------------------


async def test_set_replaces_the_days_count(client: Client, engine: Engine) -> None:
    await client.post(URL, json={"observations": [item(value=3)]}, headers=bearer())
    response = await client.post(URL, json={"observations": [item(value=5)]}, headers=bearer())

    assert await response.json() == {"stored": 1, "duplicates": 0}
    assert stored(engine) == {"alice": {date(2026, 3, 27): 5.0}}


async def test_add_with_a_repeated_key_counts_once(client: Client, engine: Engine) -> None:
    first = await client.post(URL, json={"observations": [item(mode="add", key="k1", value=2)]}, headers=bearer())
    retry = await client.post(URL, json={"observations": [item(mode="add", key="k1", value=2)]}, headers=bearer())
    other = await client.post(URL, json={"observations": [item(mode="add", key="k2", value=4)]}, headers=bearer())

    assert await first.json() == {"stored": 1, "duplicates": 0}
    assert await retry.json() == {"stored": 0, "duplicates": 1}
    assert await other.json() == {"stored": 1, "duplicates": 0}
    assert stored(engine) == {"alice": {date(2026, 3, 27): 6.0}}


# --- local days ------------------------------------------------------------------------------


async def test_at_is_bucketed_into_the_london_day_across_the_dst_change(client: Client, engine: Engine) -> None:
    # Powers of two, so each day's sum says exactly which instants landed on it.
    instants = {
        "2026-03-28T23:30:00Z": 1,  # GMT: 23:30 on the 28th
        "2026-03-29T00:30:00Z": 2,  # still GMT until 01:00 UTC: 00:30 on the 29th
        "2026-03-29T22:59:59Z": 4,  # BST: 23:59:59 on the 29th
        "2026-03-29T23:00:00Z": 8,  # BST: midnight, the 30th
        "2026-03-30T00:30:00+01:00": 16,  # written in BST: the 30th
        "2026-03-29T17:30:00-07:00": 32,  # 00:30 UTC, 01:30 BST: the 30th, though the 29th where written
        "2026-03-29T00:30:00+02:00": 64,  # 22:30 UTC, 22:30 GMT: the 28th, though the 29th where written
    }
    batch = [
        {"metric": "calls_held", "subject": "alice", "at": at, "value": value, "mode": "add", "key": at}
        for at, value in instants.items()
    ]

    response = await client.post(URL, json={"observations": batch}, headers=bearer())

    assert await response.json() == {"stored": 7, "duplicates": 0}
    assert stored(engine) == {
        "alice": {date(2026, 3, 28): 1.0 + 64, date(2026, 3, 29): 2.0 + 4, date(2026, 3, 30): 8.0 + 16 + 32}
    }


# --- the gauges -----------------------------------------------------------------------------------


def goal_value(daemon: Daemon) -> float:
    (goal,) = daemon.holder.current.goals
    return goal.value


def metric_line(text: str, name: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(name + "{"))


async def test_a_push_moves_the_goal_gauge_within_one_evaluation(client: Client, daemon: Daemon) -> None:
    await daemon.evaluate()
    assert goal_value(daemon) == 0.0

    await client.post(
        URL,
        json={
            "observations": [
                item(day="2026-03-02", value=5),
                item(day="2026-03-29", mode="add", key="a", value=2),
                item(day="2026-03-29", subject="bob", value=9),  # not alice's identity
                item(day="2026-03-30", value=100),  # after today: not yet in the value
                item(day="2026-02-28", value=100),  # last month
            ]
        },
        headers=bearer(),
    )

    # The answer comes once the counts are stored; the figures follow in the background.
    await daemon.refresher.settle()
    assert goal_value(daemon) == 7.0  # 5 + 2, nothing else
    metrics = await (await client.get("/metrics")).text()
    assert metric_line(metrics, "syncd_goal_value").endswith(" 7.0")


async def test_a_push_answers_before_the_evaluation_and_the_loop_stays_free(
    client: Client, daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    await daemon.evaluate()
    # Hold the evaluation inside its worker thread until the test lets it go.
    entered, release = threading.Event(), threading.Event()
    statuses = daemon._goal_statuses

    def held(now: datetime, refreshed: tuple[tuple[str, str], ...] | None) -> tuple[GoalStatus, ...]:
        entered.set()
        release.wait(timeout=30)
        return statuses(now, refreshed)

    monkeypatch.setattr(daemon, "_goal_statuses", held)

    response = await client.post(URL, json={"observations": [item(day="2026-03-02", value=5)]}, headers=bearer())

    assert await response.json() == {"stored": 1, "duplicates": 0}  # answered with the counts stored
    await asyncio.to_thread(entered.wait, 30)
    assert goal_value(daemon) == 0.0  # the evaluation is still running...
    assert (await client.get("/healthz")).status == 200  # ...off the event loop
    # A second push meanwhile is gathered into one more evaluation.
    await client.post(URL, json={"observations": [item(day="2026-03-03", value=4)]}, headers=bearer())
    release.set()
    await daemon.refresher.settle()
    assert goal_value(daemon) == 9.0


# --- the connector --------------------------------------------------------------------------------


async def test_the_connector_pulls_nothing_and_replaces_nothing() -> None:
    settings = PushSettings(connector="push", token=TOKEN)
    connector = PushConnector(settings, ConnectorContext(source="calls", timezone=LONDON))
    window = SyncWindow(
        start=datetime(2026, 3, 26, tzinfo=LONDON), end=datetime(2026, 3, 29, 12, tzinfo=LONDON), timezone=LONDON
    )

    await connector.check()
    result = await connector.collect(window, {"cursor": "x"})
    await connector.aclose()

    assert result.counts == []
    assert result.complete_from == date(2026, 3, 30)  # after the window's last day, the 29th
    assert dict(result.state) == {"cursor": "x"}
    assert (PushConnector.pull, PushConnector.metrics, PushSettings.requires_api_key) == (False, (), False)


def test_config_needs_a_long_enough_token_and_never_echoes_it() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(CONFIG, file="syncd.yaml", environ={"CALLS_TOKEN": "hunter2hunter2"})

    assert [str(p) for p in caught.value.problems] == [
        "syncd.yaml: sources.calls.token: must be at least 16 characters"
    ]
    assert "hunter2" not in str(caught.value)


def test_config_accepts_any_metric_for_a_push_source(config: Config) -> None:
    assert config.kpis["calls_held"].metric == "calls_held"
    assert "calls-token" not in repr(config.sources["calls"].settings)


# --- syncd record -----------------------------------------------------------------------------------


def test_record_sets_then_adds_once_per_key(config: Config, engine: Engine) -> None:
    clock = FixedClock(NOW)

    first = record_observation(
        config, "calls", metric="calls_held", subject="alice", day="2026-03-27", value="3", engine=engine, clock=clock
    )
    added = record_observation(
        config, "calls", metric="calls_held", subject="alice", day="2026-03-27", value="2",
        mode="add", key="interview-17", engine=engine, clock=clock,
    )  # fmt: skip
    again = record_observation(
        config, "calls", metric="calls_held", subject="alice", day="2026-03-27", value="2",
        mode="add", key="interview-17", engine=engine, clock=clock,
    )  # fmt: skip

    assert first == "set calls_held for alice on 2026-03-27 in source calls to 3"
    assert added == "added 2 to calls_held for alice on 2026-03-27 in source calls (day total 5)"
    assert again == (
        "key 'interview-17' was applied before: nothing added (calls_held for alice on 2026-03-27 in source calls is 5)"
    )
    assert stored(engine) == {"alice": {date(2026, 3, 27): 5.0}}


def test_record_defaults_to_today_in_the_configured_zone(config: Config, engine: Engine) -> None:
    # 23:30 UTC on the 29th is 00:30 BST on the 30th in London.
    clock = FixedClock(datetime(2026, 3, 29, 23, 30, tzinfo=UTC))

    message = record_observation(config, "calls", metric="interviews", value=1.0, engine=engine, clock=clock)

    assert message == "set interviews for all on 2026-03-30 in source calls to 1"
    assert stored(engine, "interviews") == {"all": {date(2026, 3, 30): 1.0}}


def test_record_buckets_at_into_the_local_day(config: Config, engine: Engine) -> None:
    record_observation(
        config, "calls", metric="calls_held", at="2026-03-29T23:30:00Z", value="4", engine=engine, clock=FixedClock(NOW)
    )

    assert stored(engine) == {"all": {date(2026, 3, 30): 4.0}}  # 00:30 BST


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nosuch", "syncd.yaml: sources.nosuch: no source named 'nosuch' (push sources: calls)"),
        (
            "lemlist",
            "syncd.yaml: sources.lemlist: is a lemlist source; syncd record writes only to push sources (push sources: calls)",
        ),
    ],
)
def test_record_refuses_a_source_that_is_not_push(config: Config, engine: Engine, name: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        record_observation(config, name, metric="calls_held", value="1", engine=engine, clock=FixedClock(NOW))

    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"value": "three"}, "--value must be a number >= 0, got 'three'"),
        ({"value": "-1"}, "--value: Input should be greater than or equal to 0"),
        ({"value": "nan"}, "--value: Input should be a finite number"),
        (
            {"value": "1", "mode": "add"},
            "mode add needs a key: the client's idempotency key, so a retry is not added twice",
        ),
        ({"value": "1", "day": "2026-3-1"}, "--day: must be a day as YYYY-MM-DD"),
        (
            {"value": "1", "day": "2026-03-01", "at": "2026-03-01T10:00:00Z"},
            "give exactly one of day (YYYY-MM-DD) or at (an ISO-8601 instant)",
        ),
        ({"value": "1", "mode": "sub"}, "--mode: Input should be 'set' or 'add'"),
    ],
)
def test_record_refuses_bad_input_in_one_line(
    config: Config, engine: Engine, options: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        record_observation(config, "calls", metric="calls_held", engine=engine, clock=FixedClock(NOW), **options)

    assert str(caught.value) == message
    assert stored(engine) == {}


def test_record_without_an_engine_upgrades_the_configured_database(tmp_path: Path) -> None:
    database = tmp_path / "fresh.db"
    config = parse_config(
        CONFIG + f"database_url: sqlite:///{database}\n", file="syncd.yaml", environ={"CALLS_TOKEN": TOKEN}
    )

    record_observation(config, "calls", metric="calls_held", day="2026-03-27", value="2", clock=FixedClock(NOW))

    engine = create_engine_for(f"sqlite:///{database}")
    try:
        assert stored(engine) == {"all": {date(2026, 3, 27): 2.0}}
    finally:
        engine.dispose()


def test_the_window_helper_matches_the_connector_contract() -> None:
    # Guards the assumption collect() relies on: a window ending at noon has that day as its last.
    window = SyncWindow(start=datetime(2026, 3, 29, tzinfo=LONDON), end=NOW, timezone=LONDON)
    assert window.last_day == date(2026, 3, 29)
    assert window.last_day + timedelta(days=1) == date(2026, 3, 30)


# --- the documentation ------------------------------------------------------------------------------

DOC = Path(__file__).resolve().parent.parent / "docs" / "connectors" / "push.md"


def test_the_documented_configuration_loads_and_the_curl_example_stores_what_it_says(tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    snippet = re.search(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert snippet is not None
    config = parse_config(snippet.group(1), file="push.md", environ={"CALLS_PUSH_TOKEN": TOKEN})
    assert isinstance(config.sources["calls"].settings, PushSettings)

    engine = create_engine_for(f"sqlite:///{tmp_path / 'doc.db'}")
    try:
        upgrade(engine)
        clock = FixedClock(NOW)
        first = record_observation(
            config,
            "calls",
            metric="qual_calls",
            subject="carol",
            day="2026-03-27",
            value="4",
            engine=engine,
            clock=clock,
        )
        second = record_observation(
            config, "calls", metric="interviews", at="2026-03-29T23:30:00Z", value="1",
            mode="add", key="interview-2026-0412", engine=engine, clock=clock,
        )  # fmt: skip
    finally:
        engine.dispose()
    assert f"# {first}\n" in text
    assert f"# {second}\n" in text
