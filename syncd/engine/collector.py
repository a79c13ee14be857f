"""Keep the cyclic garbage collector out of an evaluation's way.

An evaluation of 10,000 goals allocates millions of small containers (tuples, statuses, figures)
and keeps hundreds of thousands of them (the day states): the collector's thresholds then trigger
full collections that walk every tracked object of the process again and again, a quarter of a full
evaluation's time in `python -m bench.evaluation`. Nothing an evaluation makes is cyclic garbage
(reference counting frees it), so the collector is paused for the evaluation and resumes after it,
when it sees the survivors once.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]

_lock = threading.Lock()
_depth = 0  # evaluations running now, in any thread
_resume = False  # whether the collector was enabled when the first of them started


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector while the block runs; nested and concurrent uses resume it once, at the end."""
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()
