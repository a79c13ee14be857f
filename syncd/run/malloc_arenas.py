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
import functools
import logging
import os
import sys

__all__ = ["ARENAS", "limit_malloc_arenas", "release_free_memory"]

log = logging.getLogger(__name__)

ARENAS = 1
_M_ARENA_MAX = -8  # glibc malloc.h


@functools.cache  # find_library runs ldconfig in a subprocess: once a process, not after every judging
def _glibc() -> ctypes.CDLL | None:
    """Return the C library when it is glibc (the only one with arenas and malloc_trim), else None."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it
    except (OSError, AttributeError):
        return None
    return libc


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap this process's malloc arenas (before the daemon starts threads); True when the cap is set."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    libc = _glibc()
    if libc is None:
        return False
    mallopt = libc.mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(_M_ARENA_MAX, arenas))
    log.debug("malloc arenas capped at %d: %s", arenas, done)
    return done


def release_free_memory() -> bool:
    """Hand the free pages inside glibc's heap back to the system (malloc_trim); True when some were.

    After the big passes (the first evaluation, a judging of every check-in) the heap holds freed
    blocks between live ones, which glibc only returns from its top: 3-5 MB of the daemon's RSS at
    10,000 goals (bench/daemon_run.py). A few milliseconds, in a worker thread.
    """
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(0))
