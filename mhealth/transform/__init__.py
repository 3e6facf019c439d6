"""The Glue job's code (Python 3.11, Spark 3.5): stage → final table, Spark I/O, catalog writer."""
