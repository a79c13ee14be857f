"""What running the daemon imports: numpy is not among it (a test and benchmark dependency only)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The daemon's entry points and every connector, then a full evaluation of 60 goals over DayValues
# as the daemon holds its counts (forecasts included: the goals are a quarter and a month in).
_PROBE = """
import sys
import connectors, syncd.cli.main, syncd.run.daemon, syncd.serve.web
from bench import _workload as w
from syncd.engine.day_values import DayValues
from syncd.engine.fast_evaluate import evaluate_goals_fast
counts = {key: {s: DayValues.of(days) for s, days in by.items()} for key, by in w.counts(30, days=120).items()}
statuses = evaluate_goals_fast(w.config(30), counts, w.NOW)
assert len(statuses) == 60 and all(s.hit_probability is not None for s in statuses), statuses[:2]
print(sorted(m for m in sys.modules if m == "numpy" or m.startswith("numpy.")))
"""


def test_the_daemon_and_an_evaluation_never_import_numpy() -> None:
    # numpy's shared libraries and objects were 20 MB of the daemon's RSS, for a few arrays per owner.
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"
