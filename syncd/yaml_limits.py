"""Bounded YAML reading: size, nesting depth, alias count and expanded size are limited.

A configuration file is trusted input in spirit only: a typo, a truncated copy or a hostile
"billion laughs" file must give one clear line, not a RecursionError, a hang or a memory blow-up.
Both the main configuration and the web config file are read through here.

`load_limited` parses with libyaml when PyYAML has it (about five times faster: issue 10's
1,000-source file in ~0.2 s instead of ~0.8 s), but only where libyaml's answer is the pure-Python
parser's: any text libyaml refuses, or that could reach a limit, goes to the Python parser, whose
limits and messages (`invalid YAML at line N, column M: ...`) are the reference.
"""

from __future__ import annotations

import functools
import re
from itertools import chain
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import CollectionNode, MappingNode, Node

__all__ = [
    "MAX_ALIASES",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "LimitedLoaderMixin",
    "YamlLimitError",
    "check_expanded_size",
    "libyaml_loader",
    "load_limited",
    "read_text_file",
]

# A team's configuration is a few tens of KB; a company's 10,000 goals (issue 10) take about 1.2 MB.
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 64  # the deepest real key path is under ten levels
MAX_ALIASES = 200  # anchors are for sharing a few blocks, not for building structures
# Values after every alias is expanded, as interpolation and validation see them (10,000 goals and
# 5,000 people are about 175,000).
MAX_NODES = 2_000_000


# Whether load_limited may use libyaml (tests turn it off to check both paths give the same answers).
USE_LIBYAML = True
# Constructs on which libyaml and PyYAML's Python parser disagree, found by fuzzing both with the
# same resolvers: libyaml accepts tabs where PyYAML refuses them, reads a bare `!` tag as "" (PyYAML:
# None), drops a BOM inside the text, treats U+0085/U+2028/U+2029 differently, takes a comment right
# after a block scalar's header (`|#`), and reads `?` then a space differently in flow mappings. A
# text holding any of them is parsed by Python; real configuration files hold none. (A `?` inside a
# plain scalar in a flow collection is checked on the composed document instead: quoted URLs have it.)
_LIBYAML_DISAGREES = re.compile(r"[\t!\ufeff\x85\u2028\u2029]|[|>][-+0-9]*#|\?(?=\s|$)")


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


def libyaml_loader(loader: type[yaml.SafeLoader]) -> type[Any] | None:
    """Return a libyaml loader with `loader`'s resolvers and constructors, or None without libyaml.

    `loader` must be a SafeLoader subclass whose only changes are those two tables (and
    LimitedLoaderMixin, whose limits load_limited applies to the libyaml path itself).
    """
    base = getattr(yaml, "CSafeLoader", None)
    if base is None or not _libyaml_bounds_nesting():
        return None
    return type(
        f"Libyaml{loader.__name__.lstrip('_')}",
        (base,),
        {
            "yaml_implicit_resolvers": loader.yaml_implicit_resolvers,
            "yaml_constructors": dict(loader.yaml_constructors),
            "yaml_multi_constructors": dict(loader.yaml_multi_constructors),
        },
    )


@functools.cache
def _libyaml_bounds_nesting() -> bool:
    """Whether libyaml refuses deep nesting itself (1,000 levels since 0.2.5).

    Its composer recurses in C: without that bound, a file of a million `[` would overflow the C
    stack (a crash, not an error) before the depth limit could be checked.
    """
    probe = "[" * 10_001
    try:
        yaml.CSafeLoader(probe).raw_parse()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        return mark is not None and mark.index < len(probe) - 1
    return False


_REFER = object()  # the Python parser decides


def load_limited(text: str, loader: type[yaml.SafeLoader], fast_loader: type[Any] | None = None) -> Any:
    """Parse one YAML document with `loader` (a SafeLoader with LimitedLoaderMixin), or `fast_loader`.

    `fast_loader` (from `libyaml_loader(loader)`) is used when the answer is sure to be the same:
    the text has no construct the parsers disagree on and at most MAX_ALIASES `*`, and the
    composed document is within MAX_DEPTH. Anything else, an error included, is parsed again
    by `loader`, so limits, accepted texts and error messages are the Python parser's.
    """
    if (
        fast_loader is not None
        and USE_LIBYAML
        and text.count("*") <= MAX_ALIASES
        and not _LIBYAML_DISAGREES.search(text)
    ):
        document = _load_with_libyaml(text, fast_loader)
        if document is not _REFER:
            return document
    return yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader subclass


def _load_with_libyaml(text: str, fast_loader: type[Any]) -> Any:
    try:
        parser = fast_loader(text)
        try:
            node = parser.get_single_node()
            if node is None:
                return None
            if not _libyaml_read_it_as_python_would(node):
                return _REFER
            return parser.construct_document(node)
        finally:
            parser.dispose()
    except Exception:  # whatever went wrong, the Python parser gives the reference answer
        return _REFER


def _libyaml_read_it_as_python_would(root: Node) -> bool:
    """Whether the composed document is sure to be what the Python parser composes, within its limits.

    Two checks on one walk. Depth: no path from `root` longer than MAX_DEPTH nodes, counted through
    aliases (so a cycle fails) and with a level below every collection, an empty one too; never
    below LimitedLoaderMixin's count, which stops at an alias, so a document within the bound here
    is within it there. Plain scalars in flow collections: PyYAML ends one at `?`, libyaml does not
    (`[a?b]` is an error for one, a string for the other), so any such scalar holding `?` fails.
    """
    level: list[CollectionNode] = [root] if isinstance(root, CollectionNode) else []
    depth = 1
    while level:
        depth += 1  # the level below holds at least a child
        if depth > MAX_DEPTH:
            return False
        below: dict[int, CollectionNode] = {}
        for node in level:
            children = chain.from_iterable(node.value) if isinstance(node, MappingNode) else node.value
            for child in children:
                if isinstance(child, CollectionNode):
                    below[id(child)] = child
                elif node.flow_style and not child.style and "?" in child.value:  # plain: "" from libyaml
                    return False
        level = list(below.values())
    return True
