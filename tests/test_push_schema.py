"""The push endpoint's body and answers as OpenAPI describes them: what the schema accepts, the endpoint takes.

schemathesis against the demo found the body described as any object, so a client generated from
the document sent `{}` and got 422. Each body below is judged by the schema and by the endpoint's
own model, and both must give the verdict written beside it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from pydantic import ValidationError

from syncd.serve.json_limits import MAX_JSON_DEPTH, MAX_NUMBER_CHARS
from syncd.serve.openapi import openapi_document
from syncd.serve.push import (
    MAX_BATCH_ITEMS,
    MAX_BODY_BYTES,
    MAX_NAME_CHARS,
    MAX_PROBLEMS,
    MAX_SUBJECT_CHARS,
    MAX_VALUE,
    MAX_YEARS,
    ObservationBatch,
)

NOW = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)


def _operation() -> dict[str, Any]:
    operation: dict[str, Any] = openapi_document()["paths"]["/api/v1/sources/{name}/observations"]["post"]
    return operation


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    document = openapi_document()
    return Draft202012Validator({**schema, "components": document["components"]}, format_checker=FormatChecker())


def _body_validator() -> Draft202012Validator:
    return _validator(_operation()["requestBody"]["content"]["application/json"]["schema"])


def _endpoint_accepts(body: object) -> bool:
    try:
        ObservationBatch.model_validate(body, context={"now": NOW})
    except ValidationError:
        return False
    return True


def item(**fields: object) -> dict[str, object]:
    return {"metric": "interviews", "day": "2026-03-27", "value": 2, **fields}


def without(key: str, **fields: object) -> dict[str, object]:
    return {k: v for k, v in item(**fields).items() if k != key}


BODIES: list[tuple[str, object, bool]] = [
    (
        "the documented example",
        {
            "observations": [
                {"metric": "qual_calls", "subject": "carol", "day": "2026-03-27", "value": 4},
                {
                    "metric": "interviews",
                    "at": "2026-03-29T23:30:00Z",
                    "value": 1,
                    "mode": "add",
                    "key": "interview-2026-0412",
                },
            ]
        },
        True,
    ),
    ("an empty batch", {"observations": []}, True),
    ("a float value and a subject", {"observations": [item(value=2.5, subject="carol@acme.io")]}, True),
    ("at with an offset, day null", {"observations": [without("day", at="2026-03-27T09:30:00+01:00", day=None)]}, True),
    ("set with a null key", {"observations": [item(mode="set", key=None)]}, True),
    ("no observations key", {}, False),
    ("observations not a list", {"observations": {"metric": "x"}}, False),
    ("an unknown top-level key", {"observations": [], "source": "calls"}, False),
    ("no metric", {"observations": [without("metric")]}, False),
    ("no value", {"observations": [without("value")]}, False),
    ("neither day nor at", {"observations": [without("day")]}, False),
    ("both day and at", {"observations": [item(at="2026-03-27T09:30:00Z")]}, False),
    ("day null and no at", {"observations": [item(day=None)]}, False),
    ("a day that is not a date", {"observations": [item(day="2026-02-30")]}, False),
    ("a day as a number", {"observations": [item(day=20260327)]}, False),
    ("at without an offset", {"observations": [without("day", at="2026-03-27T09:30:00")]}, False),
    ("at beyond +14:00", {"observations": [without("day", at="2026-03-27T09:30:00+15:00")]}, False),
    ("a negative value", {"observations": [item(value=-1)]}, False),
    ("a value beyond 10^15", {"observations": [item(value=2e15)]}, False),
    ("a value as text", {"observations": [item(value="3")]}, False),
    ("a value as a boolean", {"observations": [item(value=True)]}, False),
    ("mode add without a key", {"observations": [item(mode="add")]}, False),
    ("mode add with a null key", {"observations": [item(mode="add", key=None)]}, False),
    ("an unknown mode", {"observations": [item(mode="replace")]}, False),
    ("an unknown item key", {"observations": [item(note="x")]}, False),
    ("a blank metric", {"observations": [item(metric="   ")]}, False),
    ("a newline in the subject", {"observations": [item(subject="carol\nbob")]}, False),
    ("a null subject", {"observations": [item(subject=None)]}, False),
]


@pytest.mark.parametrize(("case", "body", "accepted"), BODIES, ids=[case for case, _, _ in BODIES])
def test_the_schema_and_the_endpoint_agree_on_a_body(case: str, body: object, accepted: bool) -> None:
    assert _endpoint_accepts(body) is accepted, f"{case}: the endpoint's verdict changed"
    assert _body_validator().is_valid(body) is accepted, f"{case}: the schema disagrees with the endpoint"


def test_the_answers_are_described() -> None:
    responses = _operation()["responses"]
    stored = _validator(responses["200"]["content"]["application/json"]["schema"])
    assert stored.is_valid({"stored": 2, "duplicates": 0})
    assert not stored.is_valid({"stored": 2})
    problem = _validator(responses["422"]["content"]["application/json"]["schema"])
    assert problem.is_valid({"error": "observations: missing required key", "problems": ["observations: missing"]})
    for status in ("400", "401", "404", "413", "503"):
        assert "application/json" in responses[status]["content"], status


def test_the_documented_limits_are_the_enforced_ones() -> None:
    document = openapi_document()
    schemas = document["components"]["schemas"]
    observation = schemas["Observation"]["properties"]
    answers = _operation()["responses"]
    documented = {
        "items per batch": schemas["Observations"]["properties"]["observations"]["maxItems"],
        "metric": observation["metric"]["maxLength"],
        "subject": observation["subject"]["maxLength"],
        "key": observation["key"]["maxLength"],
        "value": observation["value"]["maximum"],
        "problems listed": schemas["Problem"]["properties"]["problems"]["description"],
        "years from today": observation["day"]["description"],
        "body": answers["413"]["description"],
        "json": answers["400"]["description"],
    }

    assert documented == {
        "items per batch": MAX_BATCH_ITEMS,
        "metric": MAX_NAME_CHARS,
        "subject": MAX_SUBJECT_CHARS,
        "key": MAX_NAME_CHARS,
        "value": MAX_VALUE,
        "problems listed": f"422: one line per bad item, the first {MAX_PROBLEMS}",
        "years from today": f"the local day; within {MAX_YEARS} years of today",
        "body": f"the body is larger than {MAX_BODY_BYTES // 2**20} MiB",
        "json": (
            f"malformed body, or JSON beyond the limits (nested deeper than {MAX_JSON_DEPTH} levels, "
            f"a number longer than {MAX_NUMBER_CHARS} characters)"
        ),
    }
    # And the constants are what the endpoint's model enforces.
    model = ObservationBatch.model_json_schema()
    enforced = model["$defs"]["Observation"]["properties"]
    assert model["properties"]["observations"]["maxItems"] == MAX_BATCH_ITEMS
    assert (enforced["metric"]["maxLength"], enforced["subject"]["maxLength"]) == (MAX_NAME_CHARS, MAX_SUBJECT_CHARS)
    assert enforced["key"]["anyOf"][0]["maxLength"] == MAX_NAME_CHARS
    assert enforced["value"]["maximum"] == MAX_VALUE


def test_the_push_guide_states_the_enforced_limits() -> None:
    guide = " ".join((Path(__file__).resolve().parents[1] / "docs" / "connectors" / "push.md").read_text().split())
    assert f"at most {MAX_BATCH_ITEMS:,} observations and {MAX_BODY_BYTES // 2**20} MiB per request" in guide
    assert f"nested at most {MAX_JSON_DEPTH} levels, numbers at most {MAX_NUMBER_CHARS} characters" in guide
    assert f"`value` at most 10^{round(math.log10(MAX_VALUE))}" in guide
    assert f"within {MAX_YEARS} years of today" in guide
