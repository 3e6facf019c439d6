"""The AWS deployment as `sls package` builds it offline: lint-clean, every guard rail there."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

from mhealth.core.layout import PREFIXES

pytestmark = pytest.mark.sls

REPO = Path(__file__).resolve().parents[2]
SLS = REPO / "node_modules" / ".bin" / "sls"
#: What the deployment is built from: copied, so packaging never races another `sls` in the repo.
PROJECT_ENTRIES = (
    "serverless.yml",
    "serverless",
    "mhealth",
    "handlers",
    "glue",
    "scripts",
    "requirements",
    "package.json",
)
#: Shared rather than copied: the npm install and the layer build cache.
LINKED_ENTRIES = ("node_modules", "build")
PACKAGE_TIMEOUT_SECONDS = 600

LAMBDA_UNZIPPED_LIMIT_BYTES = 262_144_000  # function code + all its layers, unzipped
#: The AWS SDK for pandas managed layer (Python 3.12) measured 204 MiB unzipped in its largest
#: release so far (aws/aws-sdk-pandas#3331); the convert function must fit beside it.
PANDAS_LAYER_UNZIPPED_BYTES = 204 * 1024 * 1024
DATASET_ZIP_BYTES = 72 * 1024 * 1024
DATASET_LOGS_BYTES = 200_000_000

SENSITIVE_SERVICES = frozenset({"s3", "secretsmanager", "glue", "iam"})
LAMBDA_TRANSIENT_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
REQUIRED_OUTPUTS = {
    "DataBucketName",
    "StateMachineArn",
    "GlueJobName",
    "GlueDatabaseName",
    "GlueTableName",
    "FailureTopicArn",
}


# ---------------------------------------------------------------------------- packaging


def _offline_environment(tmp: Path) -> dict[str, str]:
    """The caller's environment without any AWS credentials or local-port overrides."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_")
        and key not in {"MHEALTH_LOCAL_PORT", "MHEALTH_STANDIN_PORT", "MHEALTH_KAGGLE_CREDENTIALS"}
    }
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-credentials"),
        AWS_CONFIG_FILE=str(tmp / "no-config"),
        AWS_EC2_METADATA_DISABLED="true",
        SLS_TELEMETRY_DISABLED="1",
        SLS_NOTIFICATIONS_MODE="off",
        MHEALTH_BUILD_PYTHON=sys.executable,
    )
    return env


@dataclass(frozen=True)
class Packaged:
    """One stage's package directory and its CloudFormation template."""

    stage: str
    directory: Path
    project: Path

    @cached_property
    def template(self) -> dict[str, Any]:
        path = self.directory / "cloudformation-template-update-stack.json"
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return loaded

    @property
    def template_path(self) -> Path:
        return self.directory / "cloudformation-template-update-stack.json"

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.template["Resources"]
        return resources

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def one(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        found = self.of_type(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.items()))

    def function(self, name: str) -> dict[str, Any]:
        props: dict[str, Any] = self.resources[f"{name.capitalize()}LambdaFunction"]["Properties"]
        return props

    @cached_property
    def glue_manifest(self) -> dict[str, Any]:
        text = (self.directory / "glue-assets" / "manifest.json").read_text(encoding="utf-8")
        manifest: dict[str, Any] = json.loads(text)
        return manifest


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not SLS.exists():
        pytest.fail(f"{SLS} is missing: run `make setup` (npm ci) first")
    root = tmp_path_factory.mktemp("sls-project")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".serverless")
    for entry in PROJECT_ENTRIES:
        source = REPO / entry
        if source.is_dir():
            shutil.copytree(source, root / entry, ignore=ignore)
        else:
            shutil.copy2(source, root / entry)
    (REPO / "build").mkdir(exist_ok=True)
    for entry in LINKED_ENTRIES:
        (root / entry).symlink_to(REPO / entry)
    return root


def _run_package(
    project: Path, stage: str, out: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    command = [str(SLS), "package", "--stage", stage, "--package", str(out), *extra]
    return subprocess.run(
        command,
        cwd=project,
        env=_offline_environment(out.parent),
        capture_output=True,
        text=True,
        timeout=PACKAGE_TIMEOUT_SECONDS,
        check=False,
    )


def _package(project: Path, stage: str, out: Path) -> Packaged:
    completed = _run_package(project, stage, out)
    assert completed.returncode == 0, (
        f"`sls package --stage {stage}` failed:\n{completed.stdout}\n{completed.stderr}"
    )
    return Packaged(stage=stage, directory=out, project=project)


@pytest.fixture(scope="module")
def prod(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Packaged:
    return _package(project, "prod", tmp_path_factory.mktemp("sls-prod") / "package")


@pytest.fixture(scope="module")
def local(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Packaged:
    return _package(project, "local", tmp_path_factory.mktemp("sls-local") / "package")


@pytest.fixture(params=["prod", "local"])
def packaged(request: pytest.FixtureRequest) -> Packaged:
    value: Packaged = request.getfixturevalue(request.param)
    return value


# ---------------------------------------------------------------------------- template helpers


def _sub(argument: Any) -> str:
    if isinstance(argument, str):
        return argument
    text, variables = argument
    for key, variable in variables.items():
        text = text.replace(f"${{{key}}}", str(render(variable)))
    return str(text)


_INTRINSICS: dict[str, Any] = {
    "Ref": lambda argument: f"${{{argument}}}",
    "Fn::GetAtt": lambda argument: "${" + ".".join(argument) + "}",
    "Fn::Sub": _sub,
    "Fn::Select": lambda argument: render(argument[1])[argument[0]],
    "Fn::Split": lambda argument: str(render(argument[1])).split(argument[0]),
}


def render(value: Any) -> Any:
    """Intrinsics as readable text: GetAtt → ``${X.Arn}``, Ref → ``${X}``, Sub inlined."""
    if isinstance(value, list):
        return [render(item) for item in value]
    if isinstance(value, dict) and len(value) == 1:
        ((name, argument),) = value.items()
        if name in _INTRINSICS:
            return _INTRINSICS[name](argument)
    return value


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Statement:
    role: str
    effect: str
    actions: list[str]
    resources: list[str]
    raw: dict[str, Any]


def policy_statements(packaged: Packaged) -> Iterator[Statement]:
    """Every statement of every IAM policy in the template (inline role policies and policies)."""
    for logical_id, resource in packaged.resources.items():
        documents: list[dict[str, Any]] = []
        if resource["Type"] == "AWS::IAM::Role":
            documents = [p["PolicyDocument"] for p in resource["Properties"].get("Policies", [])]
        elif resource["Type"] in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
            documents = [resource["Properties"]["PolicyDocument"]]
        for document in documents:
            for raw in as_list(document["Statement"]):
                yield Statement(
                    role=logical_id,
                    effect=raw["Effect"],
                    actions=as_list(raw.get("Action", [])),
                    resources=[str(r) for r in as_list(render(raw.get("Resource", [])))],
                    raw=raw,
                )


def role_statements(packaged: Packaged, role: str) -> list[Statement]:
    return [s for s in policy_statements(packaged) if s.role == role and s.effect == "Allow"]


def actions_on(statements: list[Statement], service: str) -> list[tuple[str, str]]:
    """(action, resource) pairs for one service's actions."""
    return [
        (action, resource)
        for s in statements
        for action in s.actions
        if action.split(":")[0] == service
        for resource in s.resources
    ]


def state_machine(packaged: Packaged) -> dict[str, Any]:
    """The state machine definition, with the plugin's Fn::Sub placeholders rendered."""
    _, resource = packaged.one("AWS::StepFunctions::StateMachine")
    definition = resource["Properties"]["DefinitionString"]
    if isinstance(definition, dict):
        definition = render(definition)
    parsed: dict[str, Any] = json.loads(definition)
    return parsed


def bucket_arn_key(prefix: str) -> str:
    return "${DataBucket.Arn}/" + prefix


def zip_unzipped_bytes(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        return sum(info.file_size for info in archive.infolist())


def local_stage_values() -> dict[str, Any]:
    values: dict[str, Any] = json.loads(
        (REPO / "mhealth" / "local" / "local_stage.json").read_text(encoding="utf-8")
    )
    return values


# ---------------------------------------------------------------------------- lint and inventory


def test_cfn_lint_reports_no_errors(packaged: Packaged) -> None:
    from cfnlint.api import lint_file

    matches = lint_file(packaged.template_path)
    errors = [f"{m.rule.id} {m.message}" for m in matches if m.rule.severity == "error"]
    assert errors == []


def test_every_resource_of_the_pipeline_is_in_the_template(packaged: Packaged) -> None:
    types = {resource["Type"] for resource in packaged.resources.values()}
    assert {
        "AWS::S3::Bucket",
        "AWS::S3::BucketPolicy",
        "AWS::SecretsManager::Secret",
        "AWS::Lambda::Function",
        "AWS::Glue::Database",
        "AWS::Glue::Job",
        "AWS::StepFunctions::StateMachine",
        "AWS::Events::Rule",
        "AWS::SNS::Topic",
    } <= types
    handlers = {
        props["Properties"]["Handler"]
        for props in packaged.of_type("AWS::Lambda::Function").values()
    }
    assert handlers == {
        "handlers/download_dataset.handler",
        "handlers/mirror_raw.handler",
        "handlers/convert_logs.handler",
    }
    assert "AWS::Scheduler::Schedule" not in types  # the schedule is an EventBridge rule
    assert set(packaged.template["Outputs"]) >= REQUIRED_OUTPUTS


def test_outputs_point_at_the_resources(prod: Packaged) -> None:
    outputs = {k: v["Value"] for k, v in prod.template["Outputs"].items()}
    assert outputs["DataBucketName"] == {"Ref": "DataBucket"}
    assert outputs["StateMachineArn"] == {"Ref": "PipelineStateMachine"}
    assert outputs["GlueJobName"] == {"Ref": "GlueJob"}
    assert outputs["GlueDatabaseName"] == {"Ref": "GlueDatabase"}
    assert outputs["GlueTableName"] == "mhealth"
    assert outputs["FailureTopicArn"] == {"Ref": "FailureTopic"}


# ---------------------------------------------------------------------------- the data bucket


def test_data_bucket_is_encrypted_and_blocked_from_public_access(packaged: Packaged) -> None:
    props = packaged.resources["DataBucket"]["Properties"]
    rules = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert [r["ServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in rules] in (
        ["AES256"],
        ["aws:kms"],
    )
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_data_bucket_policy_denies_every_request_without_tls(packaged: Packaged) -> None:
    policies = [
        p
        for p in packaged.of_type("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": "DataBucket"}
    ]
    assert len(policies) == 1
    statements = as_list(policies[0]["Properties"]["PolicyDocument"]["Statement"])
    deny_tls = [
        s
        for s in statements
        if s["Effect"] == "Deny"
        and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        and s["Principal"] == "*"
        and s["Action"] == "s3:*"
    ]
    assert len(deny_tls) == 1
    assert render(deny_tls[0]["Resource"]) == ["${DataBucket.Arn}", "${DataBucket.Arn}/*"]


def test_lifecycle_rules_use_the_layout_prefixes(prod: Packaged) -> None:
    rules = prod.resources["DataBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert all(rule["Status"] == "Enabled" for rule in rules)
    assert any(rule.get("AbortIncompleteMultipartUpload") for rule in rules)
    expiring = {
        rule["Prefix"]: rule["ExpirationInDays"]
        for rule in rules
        if "Prefix" in rule and "TagFilters" not in rule
    }
    assert set(expiring) == {PREFIXES.quarantine, PREFIXES.athena_results}
    assert all(days > 0 for days in expiring.values())
    # raw/, stage/ and processed/ are the pipeline's state: nothing expires them.
    assert not {PREFIXES.raw, PREFIXES.stage, PREFIXES.processed} & set(expiring)


# ---------------------------------------------------------------------------- IAM


def test_no_iam_statement_allows_wildcards_on_s3_secrets_glue_or_iam(packaged: Packaged) -> None:
    allows = [s for s in policy_statements(packaged) if s.effect == "Allow"]
    assert allows, "no IAM policies found"
    for statement in allows:
        assert "NotAction" not in statement.raw and "NotResource" not in statement.raw
        assert "*" not in statement.actions, f"{statement.role} allows every action"
        sensitive = [a for a in statement.actions if a.split(":")[0] in SENSITIVE_SERVICES]
        wildcard_actions = [a for a in sensitive if "*" in a]
        assert wildcard_actions == [], f"{statement.role} allows {wildcard_actions}"
        if sensitive:
            assert "*" not in statement.resources, f"{statement.role} allows {sensitive} on *"
    for logical_id, role in packaged.of_type("AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in role["Properties"], f"{logical_id} uses managed policies"


def test_each_function_has_its_own_role(packaged: Packaged) -> None:
    roles = {name: packaged.function(name)["Role"] for name in ("download", "convert", "mirror")}
    assert roles == {
        "download": {"Fn::GetAtt": ["DownloadFunctionRole", "Arn"]},
        "convert": {"Fn::GetAtt": ["ConvertFunctionRole", "Arn"]},
        "mirror": {"Fn::GetAtt": ["MirrorFunctionRole", "Arn"]},
    }


def test_mirror_role_lists_and_prunes_only_stage_and_quarantine(prod: Packaged) -> None:
    statements = role_statements(prod, "MirrorFunctionRole")
    objects = {(a, r) for a, r in actions_on(statements, "s3") if a != "s3:ListBucket"}
    assert objects == {
        ("s3:DeleteObject", bucket_arn_key(PREFIXES.stage) + "*"),
        ("s3:PutObject", bucket_arn_key(PREFIXES.quarantine) + "*"),
        ("s3:DeleteObject", bucket_arn_key(PREFIXES.quarantine) + "*"),
    }  # never a write to raw/: a user's files stay where they put them
    listing = [s for s in statements if "s3:ListBucket" in s.actions]
    assert [s.raw["Condition"]["StringLike"]["s3:prefix"] for s in listing] == [
        [f"{PREFIXES.raw}*", f"{PREFIXES.stage}*", f"{PREFIXES.quarantine}*"]
    ]
    assert actions_on(statements, "secretsmanager") == []


def test_download_role_reaches_only_raw_and_its_secret(prod: Packaged) -> None:
    statements = role_statements(prod, "DownloadFunctionRole")
    objects = [(a, r) for a, r in actions_on(statements, "s3") if a != "s3:ListBucket"]
    assert objects and all(r.startswith(bucket_arn_key(PREFIXES.raw)) for _, r in objects)
    assert {a for a, _ in objects} >= {"s3:PutObject", "s3:GetObject"}
    listing = [s for s in statements if "s3:ListBucket" in s.actions]
    assert [s.raw["Condition"]["StringLike"]["s3:prefix"] for s in listing] == [
        [f"{PREFIXES.raw}*"]
    ]
    assert actions_on(statements, "secretsmanager") == [
        ("secretsmanager:GetSecretValue", "${KaggleSecret}")
    ]
    assert actions_on(statements, "glue") == []


def test_convert_role_reads_raw_and_writes_only_stage_and_quarantine(prod: Packaged) -> None:
    statements = role_statements(prod, "ConvertFunctionRole")
    objects = [(a, r) for a, r in actions_on(statements, "s3") if a != "s3:ListBucket"]
    allowed = {bucket_arn_key(p) + "*" for p in (PREFIXES.raw, PREFIXES.stage, PREFIXES.quarantine)}
    assert objects and {r for _, r in objects} <= allowed
    writes = {r for a, r in objects if a in {"s3:PutObject", "s3:DeleteObject"}}
    assert writes == {
        bucket_arn_key(PREFIXES.stage) + "*",
        bucket_arn_key(PREFIXES.quarantine) + "*",
    }
    assert ("s3:DeleteObject", bucket_arn_key(PREFIXES.quarantine) + "*") in objects
    assert actions_on(statements, "secretsmanager") == []
    assert actions_on(statements, "glue") == []


def test_glue_role_touches_only_its_prefixes_database_and_table(prod: Packaged) -> None:
    statements = role_statements(prod, "GlueJobRole")
    objects = [
        (a, r)
        for a, r in actions_on(statements, "s3")
        if a not in {"s3:ListBucket", "s3:GetBucketLocation"}
    ]
    stage_dir, processed_dir = PREFIXES.stage.rstrip("/"), PREFIXES.processed.rstrip("/")
    assert {r for _, r in objects} == {
        bucket_arn_key(PREFIXES.glue_assets) + "*",
        bucket_arn_key(stage_dir) + "*",
        bucket_arn_key(processed_dir) + "*",
    }
    writes = {r for a, r in objects if a in {"s3:PutObject", "s3:DeleteObject"}}
    assert writes == {bucket_arn_key(processed_dir) + "*"}
    glue_resources = {r for _, r in actions_on(statements, "glue")}
    assert glue_resources == {
        "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:catalog",
        "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:database/${GlueDatabase}",
        "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:table/${GlueDatabase}/mhealth",
    }
    glue_actions = {a for a, _ in actions_on(statements, "glue")}
    assert {"glue:CreateTable", "glue:UpdateTable", "glue:BatchCreatePartition"} <= glue_actions
    assert not any(a.startswith("glue:Delete") and "Table" in a for a in glue_actions)
    assert actions_on(statements, "secretsmanager") == []


def test_state_machine_role_runs_only_this_glue_job_and_these_functions(prod: Packaged) -> None:
    statements = role_statements(prod, "PipelineStateMachineRole")
    assert {r for _, r in actions_on(statements, "glue")} == {
        "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:job/${GlueJob}"
    }
    lambda_resources = {r for _, r in actions_on(statements, "lambda")}
    assert lambda_resources == {
        "${DownloadLambdaFunction.Arn}",
        "${DownloadLambdaFunction.Arn}:*",
        "${ConvertLambdaFunction.Arn}",
        "${ConvertLambdaFunction.Arn}:*",
        "${MirrorLambdaFunction.Arn}",
        "${MirrorLambdaFunction.Arn}:*",
    }
    assert {r for _, r in actions_on(statements, "sns")} == {"${FailureTopic}"}


# ---------------------------------------------------------------------------- functions


def test_download_settings_name_the_secret_and_carry_no_credentials(packaged: Packaged) -> None:
    env = packaged.function("download")["Environment"]["Variables"]
    secret = packaged.resources["KaggleSecret"]["Properties"]
    assert env["KAGGLE_SECRET_NAME"] == secret["Name"]
    stage = local_stage_values()
    assert env["KAGGLE_CONFIG_DIR"] == "/tmp/kaggle"
    assert env["KAGGLE_DATASET"] == "nirmalsankalana/mhealth-dataset-data-set"
    assert env["DATA_BUCKET"] == {"Ref": "DataBucket"}
    secrets = set(json.loads(secret["SecretString"]).values())
    secrets |= {stage["kaggleToken"], stage["kaggleKey"]}
    for function in ("download", "convert"):
        variables = packaged.function(function)["Environment"]["Variables"]
        assert not {"KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"} & set(variables)
        assert not secrets & {v for v in variables.values() if isinstance(v, str)}


def test_only_the_local_stage_points_the_download_at_the_kaggle_standin(
    prod: Packaged, local: Packaged
) -> None:
    stage = local_stage_values()
    local_env = local.function("download")["Environment"]["Variables"]
    assert local_env["KAGGLE_API_BASE_URL"] == (
        f"http://{stage['kaggleStandinHost']}:{stage['kaggleStandinPort']}"
    )
    assert "KAGGLE_API_BASE_URL" not in prod.function("download")["Environment"]["Variables"]


def test_download_source_is_kaggle_by_default_and_uci_is_the_publisher_or_the_standin(
    prod: Packaged, local: Packaged
) -> None:
    stage = local_stage_values()
    prod_env = prod.function("download")["Environment"]["Variables"]
    local_env = local.function("download")["Environment"]["Variables"]
    assert prod_env["DOWNLOAD_SOURCE"] == local_env["DOWNLOAD_SOURCE"] == "kaggle"
    # UCI Machine Learning Repository, dataset 319: https://archive.ics.uci.edu/dataset/319
    assert prod_env["UCI_BASE_URL"] == "https://archive.ics.uci.edu"
    assert local_env["UCI_BASE_URL"] == (
        f"http://{stage['kaggleStandinHost']}:{stage['kaggleStandinPort']}"
    )


def test_unknown_download_source_fails_packaging_with_a_clear_error(
    project: Path, tmp_path: Path
) -> None:
    completed = _run_package(project, "dev", tmp_path / "package", "--param=downloadSource=zenodo")
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0
    assert 'downloadSource "zenodo" is not one of kaggle, uci, none' in output


def test_secret_holds_a_token_placeholder_on_aws_and_the_standin_token_locally(
    prod: Packaged, local: Packaged
) -> None:
    # The token flow first: Kaggle's settings page issues API tokens; username/key is "legacy".
    placeholder = json.loads(prod.resources["KaggleSecret"]["Properties"]["SecretString"])
    assert placeholder == {"token": "REPLACE_ME"}
    stage = local_stage_values()
    assert json.loads(local.resources["KaggleSecret"]["Properties"]["SecretString"]) == {
        "token": stage["kaggleToken"]
    }


def test_functions_are_sized_for_the_full_dataset(prod: Packaged) -> None:
    download, convert = prod.function("download"), prod.function("convert")
    # The zip and the unpacked logs may sit in /tmp together, with room to spare.
    assert download["EphemeralStorage"]["Size"] * 1024 * 1024 >= 1.5 * (
        DATASET_ZIP_BYTES + DATASET_LOGS_BYTES
    )
    assert download["MemorySize"] >= 1024 and 300 <= download["Timeout"] <= 900
    assert convert["MemorySize"] >= 1769  # at least one full vCPU for parsing
    assert convert["EphemeralStorage"]["Size"] >= 512 and 60 <= convert["Timeout"] <= 900


def _import_closure(*entry_points: str) -> set[str]:
    """The repo files an entry point imports, transitively (``mhealth`` modules, any import
    statement anywhere in a module, each package's ``__init__.py``), read from the sources."""
    seen: set[Path] = set()
    pending = [REPO / entry for entry in entry_points]
    while pending:
        source = pending.pop()
        if source in seen:
            continue
        seen.add(source)
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                base = node.module
                if node.level:
                    package = source.relative_to(REPO).parent.parts
                    base = ".".join([*package[: len(package) - node.level + 1], node.module])
                names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            for name in names:
                parts = name.split(".")
                for end in range(1, len(parts) + 1):
                    path = REPO.joinpath(*parts[:end])
                    for candidate in (path / "__init__.py", path.with_suffix(".py")):
                        if candidate.is_file() and parts[0] in {"mhealth", "handlers"}:
                            pending.append(candidate)
    return {str(path.relative_to(REPO)) for path in seen}


#: Data files the shipped code reads at run time (importlib.resources).
SHIPPED_DATA = {"mhealth/core/s3_layout.json"}
#: Never shipped: the local stage, the CLI and the terminal tooling.
LOCAL_TOOLING = ("mhealth/local/", "mhealth/cli/", "mhealth/ops/")


def test_function_package_holds_exactly_what_the_handlers_import(packaged: Packaged) -> None:
    with zipfile.ZipFile(packaged.directory / "mhealth-pipeline.zip") as archive:
        names = {n for n in archive.namelist() if not n.endswith("/")}
    handlers = {
        f"handlers/{h}.py" for h in ("__init__", "download_dataset", "convert_logs", "mirror_raw")
    }
    expected = _import_closure(*sorted(handlers)) | handlers | SHIPPED_DATA
    assert names == expected
    assert not [n for n in names if n.startswith(LOCAL_TOOLING)]


def test_aws_layers_fit_lambdas_unzipped_limit(prod: Packaged) -> None:
    code = zip_unzipped_bytes(prod.directory / "mhealth-pipeline.zip")
    powertools = zip_unzipped_bytes(prod.directory / "powertools.zip")
    kaggle = zip_unzipped_bytes(prod.directory / "kaggle.zip")
    assert code + powertools + kaggle < LAMBDA_UNZIPPED_LIMIT_BYTES
    assert code + powertools + PANDAS_LAYER_UNZIPPED_BYTES < LAMBDA_UNZIPPED_LIMIT_BYTES
    layers = {
        n: [render(layer) for layer in prod.function(n)["Layers"]] for n in ("download", "convert")
    }
    assert layers["download"] == ["${PowertoolsLambdaLayer}", "${KaggleLambdaLayer}"]
    assert layers["convert"][0] == "${PowertoolsLambdaLayer}"
    assert re.fullmatch(
        r"arn:aws:lambda:us-east-1:336392948345:layer:AWSSDKPandas-Python312:\d+",
        layers["convert"][1],
    )
    with zipfile.ZipFile(prod.directory / "kaggle.zip") as archive:
        top = {name.split("/")[0] for name in archive.namelist()}
        assert top == {"python"}
        assert "python/kaggle/__init__.py" in archive.namelist()
        assert not any(
            n.endswith(".so") and "x86_64" not in n and "manylinux" in n for n in archive.namelist()
        )


def test_local_stage_uses_no_layers(local: Packaged) -> None:
    assert local.of_type("AWS::Lambda::LayerVersion") == {}
    assert all(
        "Layers" not in f["Properties"] or f["Properties"]["Layers"] == []
        for f in local.of_type("AWS::Lambda::Function").values()
    )


# ---------------------------------------------------------------------------- Glue


def test_glue_job_is_glue5_single_run_with_timeout_and_arguments(prod: Packaged) -> None:
    props = prod.resources["GlueJob"]["Properties"]
    assert props["GlueVersion"] == "5.0"
    assert props["ExecutionProperty"]["MaxConcurrentRuns"] == 1
    assert props["WorkerType"] == "G.1X" and props["NumberOfWorkers"] == 2
    assert 0 < props["Timeout"] <= 24 * 60
    assert props["Command"]["Name"] == "glueetl"
    args = props["DefaultArguments"]
    assert args["--bucket"] == {"Ref": "DataBucket"}
    assert args["--stage_prefix"] == PREFIXES.stage
    assert args["--processed_prefix"] == PREFIXES.processed
    assert args["--database"] == {"Ref": "GlueDatabase"}
    assert args["--table"] == "mhealth"
    assert args["--recording_start"] == "2014-01-01T00:00:00Z"
    database = prod.resources["GlueDatabase"]["Properties"]["DatabaseInput"]
    assert database["Name"] == "mhealth_db_prod"
    assert prod.of_type("AWS::Glue::Table") == {}  # the job creates and updates the table


def test_glue_job_runs_the_packaged_script_and_library(packaged: Packaged) -> None:
    props = packaged.resources["GlueJob"]["Properties"]
    manifest = packaged.glue_manifest
    keys = {Path(o["file"]).suffix: o for o in manifest["objects"]}
    assert (
        render(props["Command"]["ScriptLocation"]) == f"s3://${{DataBucket}}/{keys['.py']['key']}"
    )
    assert render(props["DefaultArguments"]["--extra-py-files"]) == (
        f"s3://${{DataBucket}}/{keys['.zip']['key']}"
    )
    assert all(o["key"].startswith(PREFIXES.glue_assets) for o in manifest["objects"])
    script = (packaged.directory / "glue-assets" / keys[".py"]["file"]).read_bytes()
    assert script == (packaged.project / "glue" / "mhealth_job.py").read_bytes()
    with zipfile.ZipFile(packaged.directory / "glue-assets" / keys[".zip"]["file"]) as archive:
        names = set(archive.namelist())
    # Exactly what the job script imports: the core and the transform, no local tooling.
    job_imports = _import_closure("glue/mhealth_job.py") - {"glue/mhealth_job.py"}
    assert names == job_imports | SHIPPED_DATA
    assert not [n for n in names if n.startswith(LOCAL_TOOLING)]


def test_glue_asset_keys_follow_the_content(prod: Packaged, local: Packaged) -> None:
    # Same sources, same keys on every stage; a key names its content's hash.
    assert prod.glue_manifest == local.glue_manifest
    for obj in prod.glue_manifest["objects"]:
        assert obj["sha256"][:16] in obj["key"]


# ---------------------------------------------------------------------------- orchestration


def test_state_machine_chains_download_convert_glue_with_retry_and_catch(
    packaged: Packaged,
) -> None:
    definition = state_machine(packaged)
    states = definition["States"]
    path, name = [], definition["StartAt"]
    while name:
        path.append(name)
        name = states[name].get("Next")
    assert path == ["Download", "Mirror", "Convert", "Transform", "Succeeded"]

    download, convert, transform = states["Download"], states["Convert"], states["Transform"]
    mirror = states["Mirror"]
    assert download["Parameters"]["FunctionName"] == "${DownloadLambdaFunction.Arn}"
    assert mirror["Parameters"]["FunctionName"] == "${MirrorLambdaFunction.Arn}"
    assert mirror["ResultPath"] == "$.mirror"
    # The work list is raw/ as the mirror step lists it, iterated by an inline Map (a failed
    # file fails the run), not what the download returned.
    assert convert["Type"] == "Map" and convert["ItemsPath"] == "$.mirror.raw_keys"
    assert convert["ItemProcessor"]["ProcessorConfig"]["Mode"] == "INLINE"
    assert convert["ItemSelector"] == {"raw_keys.$": "States.Array($$.Map.Item.Value)"}
    assert 1 <= convert["MaxConcurrency"] <= 10
    item = convert["ItemProcessor"]["States"]["ConvertFile"]
    assert item["Parameters"]["FunctionName"] == "${ConvertLambdaFunction.Arn}"
    assert transform["Resource"] == "arn:aws:states:::glue:startJobRun.sync"
    assert transform["Parameters"]["JobName"] == "${GlueJob}"

    for task in (download, mirror, item):
        retried = {e for r in task["Retry"] for e in r["ErrorEquals"]}
        assert retried >= LAMBDA_TRANSIENT_ERRORS
        assert all(r["BackoffRate"] > 1 and r["MaxAttempts"] >= 2 for r in task["Retry"])
    glue_retry = [
        r for r in transform["Retry"] if "Glue.ConcurrentRunsExceededException" in r["ErrorEquals"]
    ]
    assert glue_retry and glue_retry[0]["BackoffRate"] > 1

    for step in (download, mirror, convert, transform):
        assert [(c["ErrorEquals"], c["Next"]) for c in step["Catch"]] == [
            (["States.ALL"], "NotifyFailure")
        ]
    notify = states["NotifyFailure"]
    assert notify["Resource"] == "arn:aws:states:::sns:publish"
    assert notify["Parameters"]["TopicArn"] == "${FailureTopic}"
    assert states[notify["Next"]]["Type"] == "Fail"


def test_state_machine_logs_its_executions(packaged: Packaged) -> None:
    _, resource = packaged.one("AWS::StepFunctions::StateMachine")
    logging = resource["Properties"]["LoggingConfiguration"]
    assert logging["Level"] in {"ALL", "ERROR"}
    destinations = [d["CloudWatchLogsLogGroup"]["LogGroupArn"] for d in logging["Destinations"]]
    assert destinations == [{"Fn::GetAtt": ["PipelineStateMachineLogGroup", "Arn"]}]


def test_daily_schedule_rule_starts_the_state_machine(prod: Packaged, local: Packaged) -> None:
    for packaged, state in ((prod, "ENABLED"), (local, "DISABLED")):
        _, rule = packaged.one("AWS::Events::Rule")
        props = rule["Properties"]
        assert props["ScheduleExpression"].startswith(("cron(", "rate("))
        assert props["State"] == state
        (target,) = props["Targets"]
        assert target["Arn"] == {"Ref": "PipelineStateMachine"}


# ------------------------------------------------------------------- AWS stages side by side


@pytest.fixture(scope="module")
def dev(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Packaged:
    return _package(project, "dev", tmp_path_factory.mktemp("sls-dev") / "package")


#: Where each resource type carries its account-wide (or region-wide) name.
NAME_PROPERTIES: dict[str, tuple[str, ...]] = {
    "AWS::S3::Bucket": ("BucketName",),
    "AWS::IAM::Role": ("RoleName",),
    "AWS::StepFunctions::StateMachine": ("StateMachineName",),
    "AWS::Glue::Job": ("Name",),
    "AWS::Glue::Database": ("DatabaseInput", "Name"),
    "AWS::Events::Rule": ("Name",),
    "AWS::SNS::Topic": ("TopicName",),
    "AWS::SecretsManager::Secret": ("Name",),
    "AWS::Athena::WorkGroup": ("Name",),
    "AWS::Lambda::Function": ("FunctionName",),
    "AWS::Lambda::LayerVersion": ("LayerName",),
    "AWS::Logs::LogGroup": ("LogGroupName",),
}


def _account_wide_names(packaged: Packaged) -> dict[str, str | None]:
    """logical id -> its explicit name (rendered), or None where CloudFormation names it."""
    parameters = packaged.template.get("Parameters", {})
    names: dict[str, str | None] = {}
    for logical_id, resource in packaged.resources.items():
        path = NAME_PROPERTIES.get(resource["Type"])
        if path is None:
            continue
        value: Any = resource.get("Properties", {})
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, dict) and "Fn::If" in value:
            # The bucket: a name only when the stack parameter says so (empty by default).
            condition = packaged.template["Conditions"][value["Fn::If"][0]]
            parameter = condition["Fn::Not"][0]["Fn::Equals"][0]["Ref"]
            value = parameters[parameter]["Default"] or None
        names[logical_id] = None if value is None else str(render(value))
    return names


def test_every_account_wide_name_differs_between_dev_and_prod(
    dev: Packaged, prod: Packaged
) -> None:
    """Two stages share an account: every explicit name carries the stage, and the rest are
    named by CloudFormation from the stack name (mhealth-pipeline-<stage>), unique per stack."""
    dev_names, prod_names = _account_wide_names(dev), _account_wide_names(prod)
    assert set(dev_names) == set(prod_names)
    types = {prod.resources[logical_id]["Type"] for logical_id in prod_names}
    assert types == set(NAME_PROPERTIES)  # every kind of name above is in the template
    for logical_id in prod_names:
        dev_name, prod_name = dev_names[logical_id], prod_names[logical_id]
        if dev_name is None and prod_name is None:
            continue  # CloudFormation's <stack>-<logical id>-<suffix>
        assert dev_name != prod_name, f"{logical_id} is {prod_name!r} on both stages"
        assert dev_name is not None and "dev" in dev_name, logical_id
        assert prod_name is not None and "prod" in prod_name, logical_id
    assert prod_names["GlueDatabase"] == "mhealth_db_prod"
    assert dev_names["GlueDatabase"] == "mhealth_db_dev"


def test_the_local_stage_keeps_the_readme_database_name(local: Packaged) -> None:
    # README: SELECT * FROM "mhealth_db"."mhealth" WHERE user_id = '1' LIMIT 10 (local stage).
    database = local.resources["GlueDatabase"]["Properties"]["DatabaseInput"]
    assert database["Name"] == "mhealth_db"
    assert local.template["Outputs"]["GlueDatabaseName"]["Value"] == {"Ref": "GlueDatabase"}


# ------------------------------------------------------------------- the Glue role's S3 probes

BUCKET = "mhealth-pipeline-prod-databucket-example"


def _concrete(value: Any) -> Any:
    """A template value with the data bucket and the pseudo parameters filled in."""
    rendered = render(value)
    if isinstance(rendered, list):
        return [_concrete(item) for item in rendered]
    if isinstance(rendered, dict):
        return {key: _concrete(item) for key, item in rendered.items()}
    if isinstance(rendered, str):
        for placeholder, text in {
            "${DataBucket.Arn}": f"arn:aws:s3:::{BUCKET}",
            "${DataBucket}": BUCKET,
            "${AWS::Partition}": "aws",
            "${AWS::Region}": "us-east-1",
            "${AWS::AccountId}": "123456789012",
        }.items():
            rendered = rendered.replace(placeholder, text)
    return rendered


def _glue_role_decision(prod: Packaged, operation: str, **params: str) -> list[str]:
    """The project's own IAM evaluator (the one the local stage enforces) on one S3 request."""
    extension = str(REPO / "localstack")
    if extension not in sys.path:
        sys.path.append(extension)
    from mhealth_localstack.iam import actions
    from mhealth_localstack.iam.policy import evaluate, parse_policy

    role = prod.resources["GlueJobRole"]["Properties"]
    statements = tuple(
        statement
        for policy in role["Policies"]
        for statement in parse_policy(policy["PolicyName"], _concrete(policy["PolicyDocument"]))
    )
    target = actions.Target(region="us-east-1", account_id="123456789012")
    checks = actions.checks_for("s3", operation, {"Bucket": BUCKET, **params}, target)
    assert checks
    return [evaluate(statements, check).outcome for check in checks]


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        # Hadoop S3A / Glue's S3 connector: "does the directory exist?" lists the bare prefix...
        ("ListObjectsV2", {"Prefix": "stage", "Delimiter": "/", "MaxKeys": "1"}),
        ("ListObjectsV2", {"Prefix": "stage/", "Delimiter": "/"}),
        ("ListObjectsV2", {"Prefix": "processed/user_id=1/"}),
        ("ListObjectsV2", {"Prefix": "processed"}),
        # ...and HEADs the folder-marker keys of the older S3 clients.
        ("HeadObject", {"Key": "stage_$folder$"}),
        ("HeadObject", {"Key": "processed/user_id=1_$folder$"}),
        ("GetObject", {"Key": "stage/mHealth_subject1.parquet"}),
        ("PutObject", {"Key": "processed/user_id=1/part-0.parquet"}),
        ("GetObject", {"Key": "glue-assets/jobs/mhealth_job-0123456789abcdef.py"}),
        ("GetBucketLocation", {}),
    ],
)
def test_glue_role_allows_the_probes_of_its_s3_clients(
    prod: Packaged, operation: str, params: dict[str, str]
) -> None:
    """s3:prefix is the ListBucket request's prefix parameter ("Amazon S3 condition key
    examples", https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html);
    GetBucketLocation has no s3:prefix key at all (Service Authorization Reference,
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html)."""
    assert _glue_role_decision(prod, operation, **params) == ["allow"]


def test_glue_role_may_list_the_bucket_so_a_missing_probe_key_is_404_not_403(
    prod: Packaged,
) -> None:
    """HeadObject: "If the object you request doesn't exist, the error that Amazon S3 returns
    depends on whether you also have the s3:ListBucket permission" (404 with it, 403 without:
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html). S3 checks that
    permission without a prefix, as the local stage's enforcement does."""
    assert _glue_role_decision(prod, "HeadBucket") == ["allow"]


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("ListObjectsV2", {"Prefix": "raw/"}),
        ("ListObjectsV2", {"Prefix": "quarantine/"}),
        ("GetObject", {"Key": "raw/mHealth_subject1.log"}),
        ("PutObject", {"Key": "stage/mHealth_subject1.parquet"}),
        ("PutObject", {"Key": "glue-assets/jobs/other.py"}),
    ],
)
def test_glue_role_stays_out_of_the_other_prefixes(
    prod: Packaged, operation: str, params: dict[str, str]
) -> None:
    assert _glue_role_decision(prod, operation, **params) == ["implicit-deny"]


# ---------------------------------------------------------------------------- Athena work group


def test_each_stage_has_its_athena_work_group_with_enforced_encrypted_results(
    dev: Packaged, prod: Packaged
) -> None:
    names = set()
    for packaged in (dev, prod):
        _, group = packaged.one("AWS::Athena::WorkGroup")
        props = group["Properties"]
        names.add(props["Name"])
        configuration = props["WorkGroupConfiguration"]
        assert configuration["EnforceWorkGroupConfiguration"] is True
        result = configuration["ResultConfiguration"]
        assert render(result["OutputLocation"]) == f"s3://${{DataBucket}}/{PREFIXES.athena_results}"
        assert result["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
        # Athena's minimum cutoff is 10 MB (WorkGroupConfiguration, AWS::Athena::WorkGroup).
        assert int(configuration["BytesScannedCutoffPerQuery"]) >= 10_000_000
        outputs = packaged.template["Outputs"]
        assert outputs["AthenaWorkGroupName"]["Value"] == {"Ref": "AthenaWorkGroup"}
    assert names == {"mhealth-pipeline-dev", "mhealth-pipeline-prod"}


# ------------------------------------------------------------------- rollback-safe Glue assets


def test_superseded_glue_assets_expire_by_tag_and_current_ones_never(prod: Packaged) -> None:
    rules = prod.resources["DataBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    on_assets = [rule for rule in rules if rule.get("Prefix", "").startswith(PREFIXES.glue_assets)]
    assert len(on_assets) == 1
    (rule,) = on_assets
    # Only tagged (superseded) objects: the job's current script and library carry no tag.
    assert rule["TagFilters"] == [{"Key": "superseded", "Value": "true"}]
    assert rule["Prefix"] == PREFIXES.glue_assets
    assert 1 <= rule["ExpirationInDays"] <= 365
    plugin = (REPO / "serverless" / "plugins" / "glue-assets.js").read_text(encoding="utf-8")
    assert "deleteObjects" not in plugin and "deleteObject'" not in plugin


# --------------------------------------------------------------- pandas layer per region, secrets


def _sls_print(
    project: Path, tmp: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SLS), "print", "--format", "json", *args],
        cwd=project,
        env={**_offline_environment(tmp), **env},
        capture_output=True,
        text=True,
        timeout=PACKAGE_TIMEOUT_SECONDS,
        check=False,
    )


def test_the_pandas_layer_arn_is_chosen_for_the_region(project: Path, tmp_path: Path) -> None:
    # https://aws-sdk-pandas.readthedocs.io/en/stable/layers.html (3.16.1): af-south-1, 3.12.
    printed = _sls_print(project, tmp_path, "--stage", "prod", "--region", "af-south-1")
    assert printed.returncode == 0, printed.stderr
    layers = json.loads(printed.stdout)["functions"]["convert"]["layers"]
    assert "arn:aws:lambda:af-south-1:336392948345:layer:AWSSDKPandas-Python312:26" in layers


def test_packaging_fails_clearly_for_a_region_without_a_known_pandas_layer(
    project: Path, tmp_path: Path
) -> None:
    printed = _sls_print(project, tmp_path, "--stage", "prod", "--region", "mx-central-9")
    assert printed.returncode != 0
    output = printed.stdout + printed.stderr
    assert "No AWS SDK for pandas layer" in output
    assert "mx-central-9" in output and "serverless/pandas-layers.json" in output


def test_the_local_stage_seeds_the_legacy_pair_when_asked(project: Path, tmp_path: Path) -> None:
    stage = local_stage_values()
    printed = _sls_print(project, tmp_path, "--stage", "local", MHEALTH_KAGGLE_CREDENTIALS="legacy")
    assert printed.returncode == 0, printed.stderr
    secret = json.loads(printed.stdout)["resources"]["Resources"]["KaggleSecret"]
    assert json.loads(secret["Properties"]["SecretString"]) == {
        "username": stage["kaggleUsername"],
        "key": stage["kaggleKey"],
    }
