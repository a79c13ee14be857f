"""Goals split across replica groups by a stable hash: `shard: 2/4`, or `shard: ordinal/4` in a StatefulSet.

Each group exposes only its shard's goals; Prometheus scrapes every group and sees each goal
once. The hash is of the goal's key (KPI, owner, period kind), so a goal stays in its shard
across restarts, reloads and machines; changing the shard count moves goals, as any modulo does.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # syncd.model imports Shard from here
    from syncd.model import Goal

__all__ = ["Shard", "goal_in_shard", "parse_shard", "shard_goals"]

_SHARD = re.compile(r"^\s*(\d+|ordinal)\s*/\s*(\d+)\s*$")
# The pod's name in a StatefulSet ends in its ordinal (syncd-0, syncd-1, ...).
_ORDINAL = re.compile(r"-(\d+)$")


@dataclass(frozen=True)
class Shard:
    """Shard `index` (1-based) of `count`."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str, env: Mapping[str, str] | None = None) -> Shard:
    """Parse `2/4` (1-based), or `ordinal/4`: the StatefulSet ordinal modulo 4, plus one.

    The ordinal comes from SYNCD_SHARD_ORDINAL, else from the trailing number of POD_NAME or
    HOSTNAME (Kubernetes names a StatefulSet's pods `<name>-<ordinal>`). With 8 pods and
    `ordinal/4`, pods 0 and 4 form the replica group of shard 1.
    """
    environ = os.environ if env is None else env
    match = _SHARD.match(text)
    if not match:
        raise ValueError(f"must be INDEX/COUNT (e.g. 2/4) or ordinal/COUNT, got {text!r}")
    count = int(match.group(2))
    if count < 1:
        raise ValueError(f"the shard count must be at least 1, got {text!r}")
    if match.group(1) == "ordinal":
        ordinal = _ordinal(environ)
        if ordinal is None:
            raise ValueError("ordinal/COUNT needs SYNCD_SHARD_ORDINAL, or POD_NAME or HOSTNAME ending in -<number>")
        return Shard(ordinal % count + 1, count)
    index = int(match.group(1))
    if not 1 <= index <= count:
        raise ValueError(f"the shard index must be between 1 and {count}, got {text!r}")
    return Shard(index, count)


def goal_in_shard(goal_key: str, shard: Shard) -> bool:
    """Return whether the goal with this key belongs to `shard` (sha256, stable across processes)."""
    digest = hashlib.sha256(goal_key.encode()).digest()
    return int.from_bytes(digest[:8], "big") % shard.count == shard.index - 1


def shard_goals(goals: Iterable[Goal], shard: Shard | None) -> tuple[Goal, ...]:
    """Return the goals of `shard` (all of them without one), in configuration order."""
    if shard is None:
        return tuple(goals)
    return tuple(goal for goal in goals if goal_in_shard("|".join(goal.key), shard))


def _ordinal(environ: Mapping[str, str]) -> int | None:
    explicit = environ.get("SYNCD_SHARD_ORDINAL", "").strip()
    if explicit.isdigit():
        return int(explicit)
    for name in ("POD_NAME", "HOSTNAME"):
        found = _ORDINAL.search(environ.get(name, "").strip())
        if found:
            return int(found.group(1))
    return None
