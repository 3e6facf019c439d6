"""AWS Glue 5.0 entry point: resolves the job arguments and calls ``mhealth.transform.job.run``.

The ``mhealth`` library arrives through ``--extra-py-files``. Locally the mhealth
LocalStack extension runs this same script with a minimal ``awsglue`` stand-in and an
``AWS_ENDPOINT_URL`` pointing at the emulated AWS; Spark then reaches S3 through Python
(``mhealth.transform.spark_io.StagedS3SparkIO``), since local Spark has no S3 connector.
"""

from __future__ import annotations

import os
import platform
import sys


def main(argv: list[str]) -> None:
    import boto3
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    import mhealth
    from mhealth.transform.job import OPTIONAL_ARGUMENTS, REQUIRED_ARGUMENTS, run
    from mhealth.transform.spark_io import NativeSparkIO, SparkIO, StagedS3SparkIO

    # Which Python runs the job and where the library came from (the --extra-py-files zip).
    print(f"mhealth job: Python {platform.python_version()}; mhealth from {mhealth.__file__}")
    print(f"mhealth job: sys.path = {sys.path}")

    # getResolvedOptions rejects absent names, so ask only for the optional ones given.
    given = [name for name in OPTIONAL_ARGUMENTS if f"--{name}" in argv]
    args = getResolvedOptions(argv, ["JOB_NAME", *REQUIRED_ARGUMENTS, *given])

    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(args["JOB_NAME"], args)

    io: SparkIO = NativeSparkIO()
    if os.environ.get("AWS_ENDPOINT_URL"):  # an emulated AWS: Spark cannot reach its S3
        io = StagedS3SparkIO(boto3.client("s3"))
    result = run(glue_context.spark_session, args, io=io, glue=boto3.client("glue"))
    print(
        f"mhealth job: wrote partitions user_id={','.join(result.partitions)}; "
        f"newly catalogued: {','.join(result.new_partitions) or 'none'}; "
        f"removed (no longer in stage/): {','.join(result.removed_partitions) or 'none'}"
    )
    job.commit()


if __name__ == "__main__":
    main(sys.argv)
