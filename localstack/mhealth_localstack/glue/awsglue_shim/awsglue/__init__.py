"""Stand-in for AWS's ``awsglue`` library, so AWS Glue job scripts run unchanged in local PySpark.

The local Glue service puts the directory holding this package first on the job's PYTHONPATH.
It covers what the project's job scripts use (``utils.getResolvedOptions``,
``context.GlueContext``, ``job.Job``); DynamicFrames, bookmarks and connectors are not emulated,
and any use of them fails loudly. It is imported by the job process (Python 3.12 with pyspark),
never by LocalStack.
"""
