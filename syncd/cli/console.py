"""The rich console the commands print tables to."""

from __future__ import annotations

import os

from rich.console import Console

__all__ = ["wide_console"]

# Piped or captured output has no width to detect; rich would fold tables into 80 columns.
PIPED_WIDTH = 160


def wide_console() -> Console:
    """Return a console that keeps tables whole when the output is not a terminal.

    An explicit COLUMNS (a script that wants 80 columns) is honoured even when piped.
    """
    console = Console()
    if console.is_terminal or os.environ.get("COLUMNS", "").isdigit():
        return console
    return Console(width=PIPED_WIDTH)
