"""The `syncd` command line: `main` parses arguments and dispatches to one module per command."""

from syncd.cli.main import main

__all__ = ["main"]
