"""`python -m bench`: every benchmark, results into docs/benchmarks.md (bench/suite.py)."""

from bench.suite import main

if __name__ == "__main__":
    main()
