"""The convert step on AWS (Lambda): ``raw/`` logs parsed with pyarrow into ``stage/`` Parquet."""
