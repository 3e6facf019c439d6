"""Benchmarks of the pipeline against the baselines a user would write and the libraries' floor."""
