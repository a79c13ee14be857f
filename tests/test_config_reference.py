"""docs/configuration-reference.md is generated from the models, and no key ships undocumented."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from syncd.config_reference import format_duration, reference_markdown, undocumented

ROOT = Path(__file__).resolve().parents[1]


def test_reference_matches_the_models() -> None:
    shipped = (ROOT / "docs" / "configuration-reference.md").read_text(encoding="utf-8")
    assert shipped == reference_markdown(), (
        "regenerate: python -m syncd.config_reference > docs/configuration-reference.md"
    )


def test_every_key_has_a_description() -> None:
    assert undocumented() == []


def test_reference_names_every_connector_and_core_key() -> None:
    text = reference_markdown()
    for key in ("`timezone`", "`per_person`", "`checkins`", "`min_volume`", "### `lemlist`", "### `push`"):
        assert key in text
    assert "| `interval` | duration (30s, 15m, 1h, 3d) |  | `15m` |" in text


def test_durations_are_written_as_a_configuration_writes_them() -> None:
    assert format_duration(timedelta(minutes=15)) == "15m"
    assert format_duration(timedelta(days=3)) == "3d"
    assert format_duration(timedelta(hours=36)) == "36h"
    assert format_duration(timedelta(seconds=90)) == "90s"
