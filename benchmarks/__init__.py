"""Benchmarks: locust scenarios, probes and the trade-off report (``python -m benchmarks.run``)."""
