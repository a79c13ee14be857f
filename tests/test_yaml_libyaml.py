"""libyaml loads configuration files only where its answer is the pure-Python parser's.

Each case loads the same text both ways (`yaml_limits.USE_LIBYAML` on and off) and compares the
documents, or the one-line messages: limits, accepted texts and errors must not depend on whether
PyYAML was built with libyaml.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import syncd.config as config_module
from bench._workload import config_text
from syncd import yaml_limits
from syncd.config import load_config, parse_config
from syncd.errors import ConfigError
from syncd.yaml_limits import (
    MAX_ALIASES,
    MAX_DEPTH,
    YamlLimitError,
    check_expanded_size,
    libyaml_loader,
    load_limited,
)

ROOT = Path(__file__).resolve().parent.parent
BROKEN = sorted((ROOT / "tests" / "fixtures" / "broken_configs").glob("*.yaml"))
CONFIGS = sorted(
    [*(ROOT / "config").glob("*.yaml"), *(ROOT / "deploy").rglob("*.y*ml"), *(ROOT / "syncd").rglob("*.yaml")]
)
ENVIRON = {"PATH": "/usr/bin"}
LOADER = config_module._UniqueKeyLoader
FAST = config_module._LIBYAML_LOADER

pytestmark = pytest.mark.skipif(FAST is None, reason="PyYAML without libyaml: only the Python parser runs")


def outcome(text: str, *, libyaml: bool) -> tuple[str, str]:
    """Return ("ok", repr of the document) or ("error", the message syncd prints)."""
    try:
        document = load_limited(text, LOADER, FAST if libyaml else None)
        check_expanded_size(document)  # before repr, which would expand an alias bomb
    except yaml.YAMLError as exc:
        return "error", config_module._yaml_message(exc)
    except YamlLimitError as exc:
        return "error", str(exc)
    return "ok", repr(document)


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_a_broken_file_reads_the_same_either_way(path: Path) -> None:
    # The same document, or the same message: what follows the parse is then the same too.
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    assert outcome(text, libyaml=True) == outcome(text, libyaml=False)


def test_the_loader_gives_the_same_lines_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = {}
    for libyaml in (True, False):
        monkeypatch.setattr(yaml_limits, "USE_LIBYAML", libyaml)
        with pytest.raises(ConfigError) as caught:
            load_config(ROOT / "tests" / "fixtures" / "broken_configs" / "yaml_unclosed_quote.yaml", environ=ENVIRON)
        lines[libyaml] = [str(problem) for problem in caught.value.problems]
    assert lines[True] == lines[False]
    assert "invalid YAML at line" in lines[True][0]


@pytest.mark.parametrize("path", CONFIGS, ids=[str(p.relative_to(ROOT)) for p in CONFIGS])
def test_the_shipped_yaml_files_read_the_same_either_way(path: Path) -> None:
    text = path.read_text()
    assert outcome(text, libyaml=True) == outcome(text, libyaml=False)


def test_a_large_configuration_is_read_by_libyaml(monkeypatch: pytest.MonkeyPatch) -> None:
    text = config_text(200, "sqlite:///:memory:", push=True)

    def no_python_parser(*args: object, **kwargs: object) -> object:
        raise AssertionError("the Python parser ran")

    monkeypatch.setattr(yaml, "load", no_python_parser)
    config = parse_config(text, file="company.yaml")
    assert len(config.goals) == 400
    monkeypatch.undo()
    monkeypatch.setattr(yaml_limits, "USE_LIBYAML", False)
    assert parse_config(text, file="company.yaml") == config


def nested(depth: int) -> str:
    """A document `depth` nodes deep: depth - 1 mappings and a scalar."""
    return "".join(f"{'  ' * level}k{level}:\n" for level in range(depth - 2)) + f"{'  ' * (depth - 2)}k: v\n"


@pytest.mark.parametrize("depth", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, MAX_DEPTH + 40])
def test_the_depth_limit_is_the_same_either_way(depth: int) -> None:
    text = nested(depth)
    assert outcome(text, libyaml=True) == outcome(text, libyaml=False)
    assert outcome(text, libyaml=True)[0] == ("ok" if depth <= MAX_DEPTH else "error")


def test_an_alias_counts_as_one_level_either_way() -> None:
    # The Python parser counts an alias as one node where it stands, not the depth of what it names.
    deep = nested(MAX_DEPTH - 2).replace("k0:", "base: &deep\n  k0:", 1).replace("\n  ", "\n    ")
    text = f"{deep}again:\n  nested: *deep\n"
    assert outcome(text, libyaml=True) == outcome(text, libyaml=False)


@pytest.mark.parametrize("aliases", [MAX_ALIASES, MAX_ALIASES + 1])
def test_the_alias_limit_is_the_same_either_way(aliases: int) -> None:
    text = "x: &x 1\nlist: [" + ", ".join(["*x"] * aliases) + "]\n"
    assert outcome(text, libyaml=True) == outcome(text, libyaml=False)
    assert outcome(text, libyaml=True)[0] == ("ok" if aliases <= MAX_ALIASES else "error")


@pytest.mark.parametrize(
    "text",
    [
        "channels: [C07GROWTH1, C0?7GENERAL]\n",  # PyYAML ends a plain scalar at `?` in a flow collection
        "url: {u: http://x/?q=1}\n",
        "kpi: {source: l, metric? : emails_sent}\n",
        "url: 'http://x/?since={start}'\nplain: http://x/?q=1\n",  # quoted, or in block context: read alike
        "a: |#\n  x\n",
        "a:\tb\n",
        "a: !\n",
        "a: b\ufeffc\n",
    ],
)
def test_where_libyaml_reads_differently_the_python_parser_answers(text: str) -> None:
    assert outcome(text, libyaml=True) == outcome(text, libyaml=False)


def test_an_anchor_holding_itself_is_answered_as_the_python_parser_does() -> None:
    text = "a: &a [1, *a]\n"
    assert outcome(text, libyaml=True) == outcome(text, libyaml=False)


def test_libyaml_refuses_deep_nesting_before_its_composer_recurses() -> None:
    # Without that bound, load_limited must not use libyaml at all (its composer recurses in C).
    assert yaml_limits._libyaml_bounds_nesting()
    text = "[" * 2_000 + "]" * 2_000
    assert outcome(text, libyaml=True) == outcome(text, libyaml=False)


def test_without_libyaml_there_is_no_fast_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(yaml, "CSafeLoader")
    assert libyaml_loader(LOADER) is None
    assert load_limited("a: 1\n", LOADER, None) == {"a": 1}


# Pieces of YAML syntax, and the constructs the two parsers were found to disagree on.
_PIECES = [
    *"ab1 :-[]{},\n'\"#&*|>?%@`\\.\t!",
    "a: ",
    "- ",
    "\n  ",
    "\n    ",
    "&x ",
    "*x",
    "<<: ",
    "---\n",
    "...\n",
    "\r\n",
    "? ",
    "0x1",
    "1e3",
    "~",
    "yes",
    "2026-01-01",
    "1_000",
    ".inf",
    "|\n",
    ">-\n",
    "|2\n",
    " #",
    "!!str ",
    "!!set ",
    "!x ",
    "%YAML 1.1\n",
    "\ufeff",
    "\x85",
    "\u2028",
    "\xa0",
    "é",
    "\x00",
    "a?b",
    "a:b",
    "[a, ",
    "{a: ",
    "http://x/?q=1",
    "'a?b'",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=30))
def test_any_text_reads_the_same_either_way(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert outcome(text, libyaml=True) == outcome(text, libyaml=False)


def _mutated(text: str, rng: random.Random) -> str:
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(text) + 1)
        if rng.random() < 0.6:
            text = text[:at] + rng.choice(_PIECES) + text[at:]
        else:
            text = text[:at] + text[at + rng.randint(1, 5) :]
    return text


def test_damaged_copies_of_the_shipped_files_read_the_same_either_way() -> None:
    rng = random.Random(10)
    texts = [path.read_text() for path in CONFIGS if path.stat().st_size < 8_000]
    mismatches: list[tuple[str, Any, Any]] = []
    for _ in range(200):
        text = _mutated(rng.choice(texts), rng)
        fast, python = outcome(text, libyaml=True), outcome(text, libyaml=False)
        if fast != python:
            mismatches.append((text, fast, python))
    assert mismatches == []
