"""Glue service: jobs run as local PySpark processes; the Data Catalog stays in moto."""
