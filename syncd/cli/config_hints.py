"""What to say when the configuration file is not there: where syncd looked, and how to point it elsewhere."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from syncd.config import DEFAULT_CONFIG_PATH

__all__ = ["config_file_missing", "missing_config_hints"]


def missing_config_hints(option: str | None, environ: Mapping[str, str], cwd: Path) -> tuple[str, ...]:
    """Return the hint lines for a configuration file that does not exist, by where its path came from."""
    if option:
        return ("hint: --config names this file; check the path (SYNCD_CONFIG is read only without --config)",)
    if environ.get("SYNCD_CONFIG"):
        return ("hint: SYNCD_CONFIG names this file; set it to your configuration file, or pass --config FILE",)
    # The default path is relative: run outside the repository, it names nothing, and nothing says why.
    return (
        f"hint: with neither --config FILE nor SYNCD_CONFIG, syncd reads {DEFAULT_CONFIG_PATH} under {cwd}; "
        "pass --config FILE or set SYNCD_CONFIG=FILE",
        "hint: no configuration yet? `syncd demo` runs a demo team on its own one; "
        "docs/getting-started.md shows how to write yours",
    )


def config_file_missing(path: str) -> bool:
    """Say whether `path` names nothing (not a file that exists but cannot be read)."""
    return not os.path.lexists(path)
