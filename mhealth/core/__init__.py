"""The pure core: record schema, S3 key layout, recording time, table (no AWS, no Spark)."""
