"""pydocker's benchmarks. Speed targets live here, never as timed assertions in tests: each
benchmark measures the reference implementations in the same run and reports ratios."""
