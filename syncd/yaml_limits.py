"""Bounded YAML reading: size, nesting depth, alias count and expanded size are limited.

A configuration file is trusted input in spirit only: a typo, a truncated copy or a hostile
"billion laughs" file must give one clear line, not a RecursionError, a hang or a memory blow-up.
Both the main configuration and the web config file are read through here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "MAX_ALIASES",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "LimitedLoaderMixin",
    "YamlLimitError",
    "check_expanded_size",
    "read_text_file",
]

# A team's configuration is a few tens of KB; a company's 10,000 goals (issue 10) take about 1.2 MB.
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 64  # the deepest real key path is under ten levels
MAX_ALIASES = 200  # anchors are for sharing a few blocks, not for building structures
# Values after every alias is expanded, as interpolation and validation see them (10,000 goals and
# 5,000 people are about 175,000).
MAX_NODES = 2_000_000


class YamlLimitError(ValueError):
    """The text is beyond one of the limits above; the message says which."""


def read_text_file(path: str | Path) -> str:
    """Return a file's text, refusing files over MAX_FILE_BYTES and bytes that are not UTF-8.

    Raises OSError (FileNotFoundError included) as `Path.read_bytes` does, and YamlLimitError.
    """
    with open(path, "rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise YamlLimitError(f"the file is larger than {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise YamlLimitError(f"not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line}") from None


class LimitedLoaderMixin:
    """Put before a PyYAML loader class to bound nesting depth and alias use while composing."""

    _syncd_depth = 0
    _syncd_aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        """Compose one node, refusing too deep a structure before the recursion exhausts the stack."""
        loader: Any = self
        if loader.check_event(yaml.AliasEvent):
            self._syncd_aliases += 1
            if self._syncd_aliases > MAX_ALIASES:
                mark = loader.peek_event().start_mark
                raise yaml.composer.ComposerError(
                    None, None, f"more than {MAX_ALIASES} aliases (*name) in one file", mark
                )
        self._syncd_depth += 1
        try:
            if self._syncd_depth > MAX_DEPTH:
                mark = loader.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
            return super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self._syncd_depth -= 1


def check_expanded_size(document: object, limit: int = MAX_NODES) -> None:
    """Raise YamlLimitError when the document, aliases expanded, holds more than `limit` values.

    Aliases share objects, so sizes are memoised by identity: the cost is the number of distinct
    objects, however large the expansion would be ("billion laughs" is refused in microseconds).
    """
    sizes: dict[int, int] = {}
    keep: list[object] = []  # ids are only unique while the objects are alive

    def size(value: object, depth: int) -> int:
        if depth > MAX_DEPTH + 2:
            raise YamlLimitError(f"nested deeper than {MAX_DEPTH} levels")
        if not isinstance(value, dict | list):
            return 1
        known = sizes.get(id(value))
        if known is not None:
            return known
        children = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        total = 1
        for child in children:
            total += size(child, depth + 1)
            if total > limit:
                raise YamlLimitError(f"the file expands to more than {limit} values (aliases used as a bomb?)")
        sizes[id(value)] = total
        keep.append(value)
        return total

    size(document, 0)
