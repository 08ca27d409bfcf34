"""Benchmarks of the pipeline: `python -m benchmarks.run` (see BENCHMARKS.md)."""
