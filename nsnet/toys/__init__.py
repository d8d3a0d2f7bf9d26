"""Toy data sets for tests, benchmarks and sanity checks (not used by the product commands)."""
