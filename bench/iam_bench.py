"""IAM enforcement's cost per request on the local stage: the same S3 and Secrets Manager
requests signed with the plain local credentials (not evaluated) and with a role's temporary
credentials (authenticated, mapped and evaluated), interleaved round by round on one local AWS.
"""

from __future__ import annotations

import argparse
import json
import os
import uuid
from typing import Any

from bench.common import interleaved, ratio, write_section

BENCH_EDGE_PORT = "4575"
BENCH_STANDIN_PORT = "4605"
REQUESTS_PER_ROUND = 40


def run(repeats: int) -> dict[str, Any]:
    os.environ.setdefault("MHEALTH_LOCAL_PORT", BENCH_EDGE_PORT)
    os.environ.setdefault("MHEALTH_STANDIN_PORT", BENCH_STANDIN_PORT)
    os.environ["MHEALTH_IAM"] = "enforce"

    import boto3

    from mhealth.local import runtime
    from mhealth.local.config import LocalConfig

    config = LocalConfig.from_environment()
    up = runtime.up(config, report=lambda message: print(f"[local aws] {message}", flush=True))
    try:
        admin = config.clients()
        name = f"iam-bench-{uuid.uuid4().hex[:8]}"
        admin("s3").create_bucket(Bucket=name)
        admin("s3").put_object(Bucket=name, Key="stage/object", Body=b"x" * 1024)
        secret_arn = admin("secretsmanager").create_secret(Name=name, SecretString="{}")["ARN"]
        read_object = {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{name}/*",
        }
        read_secret = {
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": secret_arn,
        }
        policy = {"Version": "2012-10-17", "Statement": [read_object, read_secret]}
        iam = admin("iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                           "Action": "sts:AssumeRole"}],
        }  # fmt: skip
        role_arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))[
            "Role"
        ]["Arn"]
        iam.put_role_policy(RoleName=name, PolicyName="bench", PolicyDocument=json.dumps(policy))
        credentials = admin("sts").assume_role(RoleArn=role_arn, RoleSessionName="bench")[
            "Credentials"
        ]
        session = boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=config.region,
        )
        as_role = {
            service: session.client(service, endpoint_url=config.endpoint_url)
            for service in ("s3", "secretsmanager")
        }

        def requests(clients: Any) -> None:
            for _ in range(REQUESTS_PER_ROUND // 2):
                clients("s3").get_object(Bucket=name, Key="stage/object")["Body"].read()
                clients("secretsmanager").get_secret_value(SecretId=secret_arn)

        timings = interleaved(
            {
                "local_credentials": lambda: requests(admin),
                "role_credentials": lambda: requests(as_role.__getitem__),
            },
            repeats,
        )
    finally:
        if up.started:
            runtime.down(config, report=lambda message: print(f"[local aws] {message}"))
    plain, enforced = timings["local_credentials"], timings["role_credentials"]
    return {
        "requests_per_round": REQUESTS_PER_ROUND,
        "local_credentials": plain.as_dict(),
        "role_credentials": enforced.as_dict(),
        "ms_per_request_plain": round(plain.median / REQUESTS_PER_ROUND * 1000, 2),
        "ms_per_request_enforced": round(enforced.median / REQUESTS_PER_ROUND * 1000, 2),
        "ratio_enforced_to_plain": round(ratio(enforced.median, plain.median), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=15, help="interleaved rounds")
    args = parser.parse_args(argv)
    result = run(args.repeats)
    print(json.dumps(result, indent=2))
    write_section("iam", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
