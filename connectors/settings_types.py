"""Named, validated types that configuration values are parsed into."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BeforeValidator, PlainSerializer

__all__ = ["MAX_DURATION_DAYS", "Duration", "check_http_url", "parse_duration"]

# Ten years: beyond it a duration is a typo, and timedelta (or now - duration) would overflow.
MAX_DURATION_DAYS = 3660

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> timedelta:
    """Parse `30s`, `15m`, `1h`, `3d` (or a number of seconds) into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r} (use a number and s, m, h or d, e.g. 15m)")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"invalid duration {value!r} (use a number and s, m, h or d, e.g. 15m)")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if not math.isfinite(seconds):
        raise ValueError(f"duration must be a finite number, got {value!r}")
    if seconds <= 0:
        raise ValueError(f"duration must be positive, got {value!r}")
    if seconds > MAX_DURATION_DAYS * 86400:
        raise ValueError(f"duration must be at most {MAX_DURATION_DAYS}d, got {value!r}")
    return timedelta(seconds=seconds)


def check_http_url(url: str) -> str:
    """Return `url` when it is an absolute http(s) URL with a host, else raise ValueError saying why."""
    if any(ord(char) < 0x21 or ord(char) == 0x7F for char in url):
        raise ValueError("must be a URL without spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a port that is not a number or out of range
    except ValueError:
        raise ValueError(f"is not a valid URL (got {url!r})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"must be an http:// or https:// URL (got {url!r})")
    if not parts.hostname:
        raise ValueError(f"must name a host, e.g. https://api.example.com (got {url!r})")
    del port
    return url


def _format_duration(value: timedelta) -> str:
    return f"{int(value.total_seconds())}s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(_format_duration)]
