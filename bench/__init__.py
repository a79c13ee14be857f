"""Benchmarks: each module with a `main()` is one benchmark; `python -m bench` runs them all."""
