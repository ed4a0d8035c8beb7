"""Benchmarks: each module prints figures; none of them pass or fail."""
