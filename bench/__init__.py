"""Benchmarks, run by hand (not tests). `python -m bench` runs them all and writes
docs/benchmarks.md (see bench/suite.py); each bench/*.py script also runs on its own."""
