"""The running version, read from the installed distribution's metadata."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["VERSION"]

try:
    VERSION = version("syncd")
except PackageNotFoundError:  # running from a source tree that was never installed
    VERSION = "0+unknown"
