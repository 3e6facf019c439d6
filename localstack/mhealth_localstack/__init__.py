"""LocalStack extension for mhealth-pipeline: Lambda on the host, Glue jobs in local PySpark, Athena on DuckDB."""
