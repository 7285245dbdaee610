"""Benchmark harness: ours vs the floor vs a peer (see docs/benchmarks.md)."""
