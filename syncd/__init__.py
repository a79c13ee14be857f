"""syncd: owned KPIs with goals, from SaaS activity to Prometheus."""

import sys

# httpx imports its own command-line client whenever click, rich and pygments are installed, and
# syncd's CLI installs them: 6 MB of every process's RSS (pygments' lexer tables) for a tool syncd
# never runs. A None entry makes that import fail, which httpx handles (its `httpx` command then
# says to install httpx[cli]). Set before anything imports httpx; connectors/__init__ imports us first.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # None is what blocks an import
