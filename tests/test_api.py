"""The JSON API against a live daemon: every answer valid against its own OpenAPI description."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from syncd.serve.api import tidy
from syncd.serve.openapi import openapi_document
from tests.live_daemon import NOW, live_daemon


def schema_for(name: str) -> dict[str, Any]:
    document = openapi_document()
    schema = dict(document["components"]["schemas"][name])
    return schema


@pytest.fixture
async def daemon_url(tmp_path: Path) -> AsyncIterator[str]:
    async with live_daemon(tmp_path) as url:
        yield url


def test_the_document_is_valid_openapi() -> None:
    validate(openapi_document())


@pytest.mark.parametrize(("path", "schema"), [("/api/v1/goals", "Goal"), ("/api/v1/sources", "Source"),
                                              ("/api/v1/funnels", "Funnel")])  # fmt: skip
async def test_live_answers_match_the_description(daemon_url: str, path: str, schema: str) -> None:
    async with httpx.AsyncClient(base_url=daemon_url) as client:
        served = (await client.get("/api/v1/openapi.json")).json()
        assert path in served["paths"]
        answer = (await client.get(path)).json()
    assert answer, f"{path} answered nothing to check"
    Draft202012Validator({"type": "array", "items": schema_for(schema)}).validate(answer)


async def test_goals_carry_as_of_source_and_sensible_numbers(daemon_url: str) -> None:
    async with httpx.AsyncClient(base_url=daemon_url) as client:
        goals = (await client.get("/api/v1/goals")).json()
        sources = {s["name"]: s for s in (await client.get("/api/v1/sources")).json()}
    alice = next(g for g in goals if g["owner"] == "alice")
    assert alice["as_of"] == NOW.isoformat(timespec="seconds")
    assert alice["source"] == "lemlist"
    assert alice["data_complete"] is True
    assert alice["value"] == 12  # one email a day for alice, 1..12 days back
    assert sources["lemlist"]["state"] == "up"
    assert sources["lemlist"]["seconds_since_success"] == 0
    assert sources["kit"]["interval_seconds"] == timedelta(hours=1).total_seconds()


def test_tidy_drops_float_noise_but_keeps_meaning() -> None:
    assert tidy(0.9999999999999998) == 1.0
    assert tidy(1.2e-149) == 0.0
    assert tidy({"a": [0.30000000000000004, 123456.789, None, "x"]}) == {"a": [0.3, 123456.789, None, "x"]}
    assert tidy(float("inf")) is None


def test_a_source_s_age_is_in_whole_seconds_like_its_last_success() -> None:
    from datetime import UTC, datetime

    from syncd.engine.snapshot import SourceStatus
    from syncd.serve.api import source_json

    last = datetime(2026, 11, 27, 12, 57, 12, 940488, tzinfo=UTC)
    lemlist = SourceStatus(name="lemlist", connector="lemlist", interval_seconds=60, up=True, last_success=last)
    shown = source_json(lemlist, datetime(2026, 11, 27, 12, 57, 32, 693381, tzinfo=UTC))
    assert shown["last_success"] == "2026-11-27T12:57:12+00:00"
    assert shown["seconds_since_success"] == 20  # the demo showed 19.752893 beside a time without fractions
