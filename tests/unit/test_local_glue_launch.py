"""Local Glue: the pure launch rules and the awsglue stand-in, without LocalStack or Spark."""

from __future__ import annotations

import importlib
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

# Both live in the LocalStack extension, installed into LocalStack's own virtualenv rather than
# this one; the modules under test import nothing from LocalStack.
_EXTENSION = Path(__file__).resolve().parents[2] / "localstack"
_SHIM = _EXTENSION / "mhealth_localstack" / "glue" / "awsglue_shim"


@pytest.fixture(scope="module")
def launch() -> Iterator[ModuleType]:
    sys.path.insert(0, str(_EXTENSION))
    try:
        yield importlib.import_module("mhealth_localstack.glue.launch")
    finally:
        sys.path.remove(str(_EXTENSION))


@pytest.fixture(scope="module")
def glue_utils() -> Iterator[ModuleType]:
    # Other tests may check whether a real awsglue is importable: leave no trace of the shim.
    sys.path.insert(0, str(_SHIM))
    try:
        yield importlib.import_module("awsglue.utils")
    finally:
        sys.path.remove(str(_SHIM))
        for name in [n for n in sys.modules if n == "awsglue" or n.startswith("awsglue.")]:
            del sys.modules[name]


JOB_ARGV = [
    "script.py",
    "--JOB_NAME",
    "mhealth-etl",
    "--JOB_ID",
    "j_1",
    "--JOB_RUN_ID",
    "jr_1",
    "--bucket",
    "data",
    "--enable-metrics",
    "true",
]


def test_merge_lets_run_arguments_override_defaults_and_non_overridable_win(
    launch: ModuleType,
) -> None:
    merged = launch.merge_arguments(
        {"--a": "default", "--b": "default", "c": "bare"},
        {"--b": "run", "--d": "run"},
        {"--d": "locked"},
    )

    assert merged == {"--a": "default", "--b": "run", "--c": "bare", "--d": "locked"}


def test_argv_puts_glue_ids_first_and_drops_user_copies_of_them(launch: ModuleType) -> None:
    argv = launch.build_argv(
        "/run/script.py",
        job_name="job",
        job_id="j_1",
        run_id="jr_1",
        arguments={"--JOB_NAME": "spoofed", "--bucket": "data"},
    )

    assert argv == [
        "/run/script.py",
        "--JOB_NAME",
        "job",
        "--JOB_ID",
        "j_1",
        "--JOB_RUN_ID",
        "jr_1",
        "--bucket",
        "data",
    ]


def test_spark_conf_reads_glue_chained_conf_argument(launch: ModuleType) -> None:
    pairs = launch.spark_conf_pairs("spark.a=1 --conf spark.b=x=y")

    assert pairs == [("spark.a", "1"), ("spark.b", "x=y")]


def test_spark_conf_rejects_a_setting_without_value(launch: ModuleType) -> None:
    with pytest.raises(ValueError, match=r"spark\.a"):
        launch.spark_conf_pairs("spark.a")


def test_submit_args_run_local_mode_and_end_with_pyspark_shell(launch: ModuleType) -> None:
    args = shlex.split(
        launch.spark_submit_args(
            driver_memory="4g", java_tmpdir="/runs/a b/tmp", conf=[("spark.x", "1")]
        )
    )

    assert args[:4] == ["--master", "local[*]", "--driver-memory", "4g"]
    assert "-Djava.io.tmpdir=/runs/a b/tmp" in args
    assert args[-3:] == ["--conf", "spark.x=1", "pyspark-shell"]


def test_s3_uri_list_and_parse(launch: ModuleType) -> None:
    uris = launch.split_s3_uri_list(" s3://b/lib/a.zip, ,s3://b/b.py")

    assert [launch.parse_s3_uri(uri) for uri in uris] == [("b", "lib/a.zip"), ("b", "b.py")]
    with pytest.raises(ValueError, match="Not an S3 object URI"):
        launch.parse_s3_uri("/local/file.py")


def test_error_message_is_the_exception_line_of_the_last_traceback(launch: ModuleType) -> None:
    stderr = "\n".join(
        [
            "26/01/01 WARN NativeCodeLoader: Unable to load native-hadoop library",
            "Traceback (most recent call last):",
            '  File "job.py", line 3, in <module>',
            "    check(42)",
            "KeyError: 'first'",
            "",
            "During handling of the above exception, another exception occurred:",
            "",
            "Traceback (most recent call last):",
            '  File "job.py", line 5, in <module>',
            '    raise ValueError("boom")',
            "ValueError: boom",
            "26/01/01 INFO ShutdownHookManager: Shutdown hook called",
        ]
    )

    assert launch.error_message_from_stderr(stderr, 1) == "ValueError: boom"


def test_error_message_without_traceback_falls_back_to_last_line_then_exit_code(
    launch: ModuleType,
) -> None:
    assert launch.error_message_from_stderr("starting\nmissing input\n\n", 1) == "missing input"
    assert launch.error_message_from_stderr("", 137) == "Job script exited with code 137"


def test_resolved_options_hold_requested_names_and_glue_ids(glue_utils: ModuleType) -> None:
    args = glue_utils.getResolvedOptions(JOB_ARGV, ["JOB_NAME", "bucket"])

    assert args["JOB_NAME"] == "mhealth-etl"
    assert args["JOB_ID"] == "j_1"
    assert args["JOB_RUN_ID"] == "jr_1"
    assert args["bucket"] == "data"
    assert args["job_bookmark_option"] == "job-bookmark-disable"
    assert "enable_metrics" not in args


def test_resolved_options_reject_a_missing_required_name(glue_utils: ModuleType) -> None:
    with pytest.raises(glue_utils.GlueArgumentError, match="--table"):
        glue_utils.getResolvedOptions(JOB_ARGV, ["JOB_NAME", "table"])


def test_resolved_options_reject_a_reserved_name(glue_utils: ModuleType) -> None:
    with pytest.raises(RuntimeError, match="JOB_RUN_ID"):
        glue_utils.getResolvedOptions(JOB_ARGV, ["JOB_RUN_ID"])


def test_glue_5_versions_run_python_3_11_and_no_version_means_5_1(launch: ModuleType) -> None:
    # AWS Glue versions: 5.0 and 5.1 run Python 3.11; a job without a version gets 5.1.
    assert launch.python_version_for("5.0") == "3.11"
    assert launch.python_version_for("5.1") == "3.11"
    assert launch.python_version_for(None) == "3.11"


def test_an_older_glue_version_is_refused_naming_the_ones_run_locally(launch: ModuleType) -> None:
    with pytest.raises(ValueError, match=r"GlueVersion 4\.0 is not run .* Glue 5\.0, 5\.1"):
        launch.python_version_for("4.0")
