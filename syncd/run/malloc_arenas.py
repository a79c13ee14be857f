"""Cap glibc's malloc arenas for the daemon: threads otherwise each grow their own heap.

glibc gives a thread that finds the main arena locked an arena of its own, up to 8 per core, and
memory freed in one arena is never reused by another. The daemon evaluates, judges and stores on
worker threads while the event loop parses pushes: at 10,000 goals fed through the push API its
peak RSS was 365 MB with the default arenas and 288 MB with one (bench/daemon_run.py, this
machine). The GIL already serialises almost every allocation, so one arena costs no throughput.

`MALLOC_ARENA_MAX` in the environment is the operator's choice and is left as it is; so is any libc
that is not glibc (musl has no arenas).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

__all__ = ["ARENAS", "limit_malloc_arenas"]

log = logging.getLogger(__name__)

ARENAS = 1
_M_ARENA_MAX = -8  # glibc malloc.h


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap this process's malloc arenas (before the daemon starts threads); True when the cap is set."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it, and only glibc has arenas
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(_M_ARENA_MAX, arenas))
    log.debug("malloc arenas capped at %d: %s", arenas, done)
    return done
