"""LocalStack extension: Lambda on the host, Glue jobs in local PySpark, Athena on DuckDB."""
