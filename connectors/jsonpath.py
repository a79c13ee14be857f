"""A tiny JSON path reader for http_json: dotted keys, list indexes and `[*]`, nothing more.

Accepted forms: `data.items`, `$.data.items`, `$.data[*]`, `results[0].count`, `meta["next-url"]`,
`$` (or an empty path) for the document itself. Filters, slices and recursive descent are not
supported; configurations that need them are rare enough not to justify jsonpath-ng's parser.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["JsonPath", "parse_path"]

_WILDCARD = "*"
# One step: `.name`, `name` at the start, `[3]`, `[*]`, `["quoted"]` or `['quoted']`.
_STEP = re.compile(
    r"""
    (?:\.|^)(?P<name>[^.\[\]"']+)
    | \[(?P<index>-?\d+)\]
    | \[(?P<star>\*)\]
    | \[(?P<quote>["'])(?P<quoted>[^"']*)(?P=quote)\]
    """,
    re.VERBOSE,
)

Step = str | int  # a key, a list index, or the wildcard "*"


@dataclass(frozen=True)
class JsonPath:
    """A parsed path: read it from a decoded JSON document with `find` or `first`."""

    text: str
    steps: tuple[Step, ...]

    @property
    def has_wildcard(self) -> bool:
        return _WILDCARD in self.steps

    def find(self, document: object) -> list[object]:
        """Return every value the path reaches (`[*]` expands lists); missing steps give none."""
        current: list[object] = [document]
        for step in self.steps:
            following: list[object] = []
            for value in current:
                following.extend(_step(value, step))
            current = following
        return current

    def first(self, document: object) -> object | None:
        """Return the first value the path reaches, or None when it reaches nothing."""
        found = self.find(document)
        return found[0] if found else None

    def __str__(self) -> str:
        return self.text


def parse_path(text: str) -> JsonPath:
    """Parse a path such as `$.data[*].created_at`; raise ValueError naming what is wrong."""
    body = text.strip()
    if body.startswith("$"):
        body = body[1:]
    body = body.removeprefix(".") if not body.startswith("..") else body
    steps: list[Step] = []
    position = 0
    while position < len(body):
        match = _STEP.match(body, position) if position else _STEP.match(body)
        if match is None or match.end() == position:
            raise ValueError(f"cannot read JSON path {text!r} at {body[position:]!r}")
        if match.group("name") is not None:
            steps.append(match.group("name"))
        elif match.group("index") is not None:
            steps.append(int(match.group("index")))
        elif match.group("star") is not None:
            steps.append(_WILDCARD)
        else:
            steps.append(match.group("quoted"))
        position = match.end()
    return JsonPath(text=text, steps=tuple(steps))


def _step(value: object, step: Step) -> Sequence[object]:
    if step == _WILDCARD:
        if isinstance(value, list):
            return value
        if isinstance(value, dict):
            return list(value.values())
        return ()
    if isinstance(step, int):
        if isinstance(value, list) and -len(value) <= step < len(value):
            return (value[step],)
        return ()
    if isinstance(value, dict) and step in value:
        return (value[step],)
    return ()
