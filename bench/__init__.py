"""Benchmarks: `python -m bench run --scales 100000 1000000 --only datagen,staging`.

Each benchmark is a module `bench/bench_<name>.py` with `run(scale, workdir) -> dict`.
The harness runs every (benchmark, scale) in its own process so peak RSS is that run's own,
and appends the results with machine, date and git sha to BENCHMARKS.md.
"""
