"""The rich console the commands print tables to."""

from __future__ import annotations

from rich.console import Console

__all__ = ["wide_console"]

# Piped or captured output has no width to detect; rich would fold tables into 80 columns.
PIPED_WIDTH = 160


def wide_console() -> Console:
    """Return a console that keeps tables whole when the output is not a terminal."""
    console = Console()
    return console if console.is_terminal else Console(width=PIPED_WIDTH)
