"""The daemon caps glibc's malloc arenas unless the operator chose a number."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from syncd.run import malloc_arenas

_PROBE = "from syncd.run.malloc_arenas import limit_malloc_arenas; print(limit_malloc_arenas())"


@pytest.fixture(autouse=True)
def _libc_looked_up_again() -> Iterator[None]:
    # The C library is looked up once a process; tests that hide it need the lookup to run again.
    malloc_arenas._glibc.cache_clear()
    yield
    malloc_arenas._glibc.cache_clear()


def _probe(env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_arenas_are_capped_on_glibc_and_the_operators_choice_stands() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    assert _probe(env) == "True"
    assert _probe({**env, "MALLOC_ARENA_MAX": "4"}) == "False"


def test_no_libc_found_is_no_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setattr(malloc_arenas.ctypes.util, "find_library", lambda _name: None)
    assert malloc_arenas.limit_malloc_arenas() is False


_TRIM_PROBE = """
from syncd.run.malloc_arenas import release_free_memory
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) // 1024
blocks = [bytes(4000) for _ in range(20000)]  # 80 MB of malloc'd blocks, too big for pymalloc
kept = blocks[::50]  # every 50th stays: the heap cannot shrink from its top
del blocks
before = rss()
released = release_free_memory()
print(released, before - rss())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_free_pages_inside_the_heap_go_back_to_the_system() -> None:
    done = subprocess.run([sys.executable, "-c", _TRIM_PROBE], capture_output=True, text=True, check=True)
    released, freed_mb = done.stdout.split()
    assert released == "True"
    assert int(freed_mb) > 40  # of the ~78 MB freed between the kept blocks


def test_no_glibc_is_nothing_to_release(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(malloc_arenas.ctypes.util, "find_library", lambda _name: None)
    assert malloc_arenas.release_free_memory() is False
