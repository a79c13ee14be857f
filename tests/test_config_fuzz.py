"""Hypothesis fuzzes the configuration loader: any input is a Config or a ConfigError, nothing else."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncd.config import load_config, parse_config
from syncd.errors import ConfigError
from syncd.model import Config

ENVIRON = {"LEMLIST_API_KEY": "lemlist-key-0001"}
VALID: dict[str, Any] = {
    "timezone": "Europe/London",
    "week_start": "monday",
    "holidays": ["2026-12-25"],
    "database_url": "sqlite:///syncd.db",
    "listen": "127.0.0.1:9464",
    "teams": {"growth": {"head": "maya"}},
    "people": {"maya": {"team": "growth"}, "alice": {"team": "growth", "identities": {"lemlist": "a@acme.io"}}},
    "sources": {
        "lemlist": {
            "connector": "lemlist",
            "api_key": "${LEMLIST_API_KEY}",
            "interval": "15m",
            "lookback": "3d",
            "base_url": "https://api.lemlist.com/api",
        }
    },
    "kpis": {"sent": {"source": "lemlist", "metric": "emails_sent", "per_person": True}},
    "goals": [{"kpi": "sent", "owner": "alice", "period": "month", "target": 400, "checkins": "week"}],
    "funnels": {},
}

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(
        [
            ".inf",
            "-1d",
            "0.0000001s",
            "99999999999d",
            "800000d",
            "ftp://x",
            "postgresql://h:54x2/d",
            "${NOPE}",
            "2026-02-30",
            "9s",
            "10s",
            "http://",
            "monday",
            "month",
            "sqlite://",
            "127.0.0.1:0",
        ]
    ),
)
_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out.extend(_paths(child, (*prefix, index)))
    return out


PATHS = [path for path in _paths(VALID) if path]


def _mutated(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    document = copy.deepcopy(VALID)
    target: Any = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return document


def _outcome(text: str) -> Config | None:
    try:
        return parse_config(text, file="fuzz.yaml", environ=ENVIRON)
    except ConfigError as exc:
        problems = [str(problem) for problem in exc.problems]
    assert problems
    assert all("\n" not in problem for problem in problems)
    return None


def test_the_unmutated_document_loads() -> None:
    assert isinstance(_outcome(yaml.safe_dump(VALID)), Config)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=_values)
def test_any_value_at_any_key_is_a_config_or_a_config_error(path: tuple[Any, ...], value: Any) -> None:
    _outcome(yaml.safe_dump(_mutated(path, value), allow_unicode=True))


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=300))
def test_any_text_is_a_config_or_a_config_error(text: str) -> None:
    _outcome(text)


@settings(max_examples=50, deadline=None)
@given(data=st.binary(max_size=300))
def test_any_bytes_on_disk_are_a_config_or_a_config_error(tmp_path_factory: Any, data: bytes) -> None:
    path = Path(tmp_path_factory.mktemp("fuzz")) / "syncd.yaml"
    path.write_bytes(data)
    problems: list[str] = ["loaded"]
    try:
        load_config(path, environ=ENVIRON)
    except ConfigError as exc:
        problems = [str(problem) for problem in exc.problems]
    assert problems
