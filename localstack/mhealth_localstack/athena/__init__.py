"""Athena service: SQL runs on DuckDB over Glue catalog tables in the emulated S3."""
