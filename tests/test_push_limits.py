"""Push input limits: every bad value is a typed 4xx naming the field, never a 500 or a 503."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

import syncd.serve.push as push_module
from syncd.config import parse_config
from syncd.errors import StorageDataError
from syncd.model import Config
from syncd.run.daemon import Daemon
from syncd.serve.json_limits import MAX_JSON_DEPTH, json_depth_exceeds
from syncd.serve.push import push_routes
from syncd.serve.web import build_app
from syncd.store import create_engine_for, upgrade
from tests.test_push import CONFIG, NOW, TOKEN, URL, Client, FixedClock, bearer, item, stored


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
async def client(config: Config, engine: Engine) -> AsyncIterator[Client]:
    daemon = Daemon(config, engine, clock=FixedClock(NOW), extra_routes=push_routes)
    async with TestClient(TestServer(build_app(daemon.web_state))) as test_client:
        yield test_client


async def post(client: Client, body: bytes) -> tuple[int, dict[str, Any]]:
    response = await client.post(URL, data=body, headers={**bearer(), "Content-Type": "application/json"})
    return response.status, await response.json()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            b'{"observations": [{"metric": "calls_held", "day": "2026-03-27", "value": ' + b"9" * 5000 + b"}]}",
            "a number is longer than 40 characters",
        ),
        (b"[" * 100_000 + b"]" * 100_000, f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels"),
        (b'{"a": ' * 50_000 + b"1" + b"}" * 50_000, f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels"),
        (
            b'{"observations": [{"metric": "calls_held", "day": "2026-03-27", "value": NaN}]}',
            "NaN is not a JSON number",
        ),
        (
            b'{"observations": [{"metric": "calls_held", "day": "2026-03-27", "value": Infinity}]}',
            "Infinity is not a JSON number",
        ),
        (b"\xff\xfe{}", "the body is not valid JSON"),
    ],
    ids=["5000-digits", "arrays-100000-deep", "objects-50000-deep", "nan", "infinity", "not-utf8"],
)
async def test_hostile_bodies_are_400(client: Client, engine: Engine, body: bytes, error: str) -> None:
    status, payload = await post(client, body)
    assert (status, payload["error"]) == (400, error)
    assert stored(engine) == {}


def test_brackets_inside_strings_are_not_nesting() -> None:
    text = json.dumps({"observations": [item(subject="[" * 1000 + "{" * 1000)]}).encode()
    assert not json_depth_exceeds(text, MAX_JSON_DEPTH)
    assert json_depth_exceeds(b"[" * (MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)
    assert not json_depth_exceeds(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH, MAX_JSON_DEPTH)


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


# Strings made of what confuses a bracket counter: brackets, quotes, backslashes (escaped by json.dumps).
_tricky_text = st.text(alphabet='[]{}"\\\\ax\u00e9', max_size=12)
_json = st.recursive(
    st.none() | st.integers() | _tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_tricky_text, inner, max_size=3),
    max_leaves=40,
)


@given(value=_json, limit=st.integers(min_value=0, max_value=8), ascii_only=st.booleans())
def test_the_depth_check_agrees_with_the_parsed_depth(value: object, limit: int, ascii_only: bool) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert json_depth_exceeds(body, limit) == (_depth(value) > limit)


@pytest.mark.parametrize(
    "body",
    [
        rb'["\\\\"' + b"," + b"[" * 40 + b"]" * 40 + b"]",  # a string of escaped backslashes, then nesting
        rb'["\\\""' + b"," + b"[" * 40 + b"]" * 40 + b"]",  # an escaped quote after an escaped backslash
        rb'{"k\"[[[[": "\\"}' + b"[" * 40,
    ],
)
def test_escapes_before_a_quote_never_hide_nesting(body: bytes) -> None:
    assert json_depth_exceeds(body, MAX_JSON_DEPTH)


def test_nesting_at_the_limit_passes_and_one_more_is_refused() -> None:
    at_limit = b'{"a":' * (MAX_JSON_DEPTH - 1) + rb'["[\\"]' + b"}" * (MAX_JSON_DEPTH - 1)
    assert _depth(json.loads(at_limit)) == MAX_JSON_DEPTH
    assert not json_depth_exceeds(at_limit, MAX_JSON_DEPTH)
    assert json_depth_exceeds(b"[" + at_limit + b"]", MAX_JSON_DEPTH)


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        (item(at="9999-12-31T23:59:59-23:59", day=None), "observations[0].at: the UTC offset must be within"),
        (item(at="2026-03-27T10:00:00+15:00", day=None), "observations[0].at: the UTC offset must be within"),
        (item(at="2045-01-01T00:00:00+00:00", day=None), "observations[0]: at must be within 10 years of today"),
        (item(at="0001-01-01T00:00:00+00:00", day=None), "observations[0]: at must be within 10 years of today"),
        (item(day="9999-12-31"), "observations[0]: day must be within 10 years of today"),
        (item(day="1900-01-01"), "observations[0]: day must be within 10 years of today"),
        (item(subject="ali\x00ce"), "observations[0].subject: String should match pattern"),
        (item(metric="calls\x00held"), "observations[0].metric: String should match pattern"),
        (item(subject="line\nbreak"), "observations[0].subject: String should match pattern"),
        (item(mode="add", key="k\x07"), "observations[0].key: String should match pattern"),
        (item(value=1e308), "observations[0].value: Input should be less than or equal to 1000000000000000"),
        (item(value=1e16), "observations[0].value: Input should be less than or equal to 1000000000000000"),
        (item(value=10**30), "observations[0].value: Input should be less than or equal to 1000000000000000"),
    ],
)
async def test_bad_values_are_422_naming_the_field(
    client: Client, engine: Engine, bad: dict[str, object], problem: str
) -> None:
    bad = {key: value for key, value in bad.items() if value is not None}
    status, payload = await post(client, json.dumps({"observations": [bad]}).encode())
    assert status == 422
    assert payload["error"].startswith(problem), payload
    assert stored(engine) == {}


async def test_adding_1e308_twice_stores_nothing_infinite(client: Client, engine: Engine) -> None:
    for key in ("first", "second"):
        status, _ = await post(client, json.dumps({"observations": [item(value=1e308, mode="add", key=key)]}).encode())
        assert status == 422
    biggest = item(value=1e15, mode="add", key="a")
    assert (await post(client, json.dumps({"observations": [biggest, {**biggest, "key": "b"}]}).encode()))[0] == 200
    assert stored(engine) == {"alice": {date(2026, 3, 27): 2e15}}


async def test_a_storage_data_error_is_422_not_a_retry_later(
    client: Client, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise StorageDataError("cannot store pushed counts of calls: value out of range")

    monkeypatch.setattr(push_module, "apply_pushed_counts", refuse)
    status, payload = await post(client, json.dumps({"observations": [item()]}).encode())
    assert status == 422
    assert "do not retry" in payload["error"]


# --- fuzzing ------------------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
_field_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(["2026-03-27", "2026-03-29T01:30:00+01:00", "9999-12-31T23:59:59-23:59", "set", "add", "x\x00"]),
)
_observation = st.dictionaries(
    st.sampled_from(["metric", "subject", "day", "at", "value", "mode", "key", "extra"]), _field_values, max_size=7
)
_bodies = st.one_of(
    st.binary(max_size=200),
    _json.map(lambda value: json.dumps(value).encode()),
    st.lists(_observation, max_size=5).map(lambda items: json.dumps({"observations": items}).encode()),
)


def test_fuzzed_bodies_get_a_typed_answer_never_a_500(config: Config, engine: Engine) -> None:
    daemon = Daemon(config, engine, clock=FixedClock(NOW), extra_routes=push_routes)
    loop = asyncio.new_event_loop()
    client: Client = TestClient(TestServer(build_app(daemon.web_state)), loop=loop)
    loop.run_until_complete(client.start_server())

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=_bodies)
    def check(body: bytes) -> None:
        status, payload = loop.run_until_complete(post(client, body))
        assert status in (200, 400, 422), (status, payload)
        assert isinstance(payload.get("error", ""), str)

    try:
        check()
    finally:
        loop.run_until_complete(client.close())
        loop.close()
