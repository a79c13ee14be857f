"""The daemon caps glibc's malloc arenas unless the operator chose a number."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from syncd.run import malloc_arenas

_PROBE = "from syncd.run.malloc_arenas import limit_malloc_arenas; print(limit_malloc_arenas())"


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
