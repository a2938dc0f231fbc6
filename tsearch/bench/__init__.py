"""Benchmarks that print figures (never timed tests): `python -m tsearch.bench NAME --help`."""
