"""Run every benchmark: each module of this package that defines `main()`, in name order.

`python -m bench` runs them all; `python -m bench NAME ...` runs only the named ones.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def discover() -> dict[str, Callable[[], object]]:
    """Return each benchmark module's `main`, keyed by module name, in name order."""
    found: dict[str, Callable[[], object]] = {}
    for module_info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__package__ or 'bench'}.{module_info.name}")
        entry = getattr(module, "main", None)
        if callable(entry):
            found[module_info.name] = entry
    return found


def run(names: Sequence[str]) -> int:
    """Run the named benchmarks (all when `names` is empty) and return the exit code."""
    benchmarks = discover()
    unknown = [name for name in names if name not in benchmarks]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(benchmarks)}", file=sys.stderr)
        return 2
    for name in names or list(benchmarks):
        print(f"== {name}")
        started = time.perf_counter()
        benchmarks[name]()
        print(f"== {name}: {time.perf_counter() - started:.1f} s\n")
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
