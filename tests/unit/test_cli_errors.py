"""The CLI's one error path, run as a user runs it: the ``mhealth`` console script in a
subprocess. Each case asserts the one line on stderr (``error: <what> — <what to do>``),
the exit code (0 done, 1 the job failed, 2 bad usage, 3 the stage or the local AWS not
reachable or not deployed: the README's table), that no traceback shows, and what is left on
disk. None needs the local AWS: "the local AWS is down" points MHEALTH_LOCAL_PORT at a port
nothing listens on. (The cases that need the stack are in
tests/integration/test_cli_stage_errors.py: pytest needs distinct basenames here.)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli_run import (
    JOB_FAILED,
    MHEALTH,
    UNREACHABLE,
    USAGE,
    Run,
    assert_one_error_line,
    mhealth,
)
from tests.published import ACTIVITY_LABELS

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The full dataset's rows (the published total of the dataset's README table).
FULL_SIZE_ROWS = 1_215_745


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment of a user with no AWS configured and no local AWS running: the local
    ports point at free ports, the state dir into tmp_path, and no AWS config, credentials,
    region or instance metadata (so no request leaves this machine)."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "MHEALTH_")) and key != "PYTEST_CURRENT_TEST"
    }
    environment.update(
        MHEALTH_LOCAL_PORT=str(_free_port()),
        MHEALTH_STANDIN_PORT=str(_free_port()),
        MHEALTH_LOCAL_STATE_DIR=str(tmp_path / "state"),
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return environment


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# --- bad usage (exit 2), found before anything starts ----------------------------------------


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["demo", "--scale", "0"], ["--scale", "above 0"]),
        (["demo", "--scale", "-1"], ["--scale", "above 0"]),
        (["demo", "--scale", "nan"], ["--scale"]),
        (["sample", "--out", "out", "--scale", "1e9"], ["--scale", "at most 100"]),
        (["sample", "--out", "out", "--scale", "0"], ["--scale"]),
        (
            ["transform", "--stage", "stage", "--out", "out", "--recording-start", "yesterday"],
            ["ISO-8601", "yesterday"],
        ),
        (["query", "--stage", "local", ""], ["SQL is empty"]),
        (["query", "--stage", "local", "   "], ["SQL is empty"]),
        (["query", "--stage", "LOCAL", "SELECT 1"], ["case-sensitive", "--stage local"]),
        (["run", "--stage", "no/such stage"], ["not a stage name"]),
        (["run", "--stage", "local", "--timeout", "0"], ["--timeout"]),
        ([], ["COMMAND"]),
        (["frobnicate"], ["frobnicate"]),
        (["run", "--bogus"], ["--bogus"]),
    ],
)
def test_bad_usage_is_one_line_exit_2_and_starts_nothing(
    argv: list[str], fragments: list[str], env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "stage").mkdir()
    run = mhealth(*argv, env=env, cwd=tmp_path)

    assert_one_error_line(run, USAGE, *fragments)
    # Nothing was written or started: no output folder, no local AWS state (its records,
    # logs and the demo's dataset live in the state dir).
    assert files_under(tmp_path) == ["stage"]


def test_demo_with_a_bad_scale_does_not_start_the_local_aws(
    env: dict[str, str], tmp_path: Path
) -> None:
    started = time.monotonic()
    run = mhealth("demo", "--scale", "0", env=env, cwd=tmp_path)

    assert_one_error_line(run, USAGE, "--scale")
    assert time.monotonic() - started < 30  # starting LocalStack alone takes longer
    assert not (tmp_path / "state").exists()
    with socket.socket() as probe:  # nothing listens where the local AWS would
        assert probe.connect_ex(("127.0.0.1", int(env["MHEALTH_LOCAL_PORT"]))) != 0


@pytest.mark.parametrize("kind", ["missing", "empty", "only-hidden"])
def test_transform_without_stage_parquet_says_so_instead_of_a_spark_error(
    kind: str, env: dict[str, str], tmp_path: Path
) -> None:
    stage = tmp_path / "stage"
    if kind != "missing":
        stage.mkdir()
    if kind == "only-hidden":  # Spark skips files starting with "." or "_"
        (stage / "_SUCCESS.parquet").write_bytes(b"PAR1")
        (stage / ".hidden.parquet").write_bytes(b"PAR1")
    run = mhealth("transform", "--stage", str(stage), "--out", "out", env=env, cwd=tmp_path)

    line = assert_one_error_line(run, USAGE, str(stage), "mhealth convert")
    assert "UNABLE_TO_INFER_SCHEMA" not in line
    assert not (tmp_path / "out").exists()


def test_transform_of_a_corrupt_parquet_file_is_one_line_without_java_stack(
    env: dict[str, str], tmp_path: Path
) -> None:
    stage = tmp_path / "stage"
    stage.mkdir()
    (stage / "mHealth_subject1.parquet").write_text("not parquet at all\n", encoding="ascii")

    run = mhealth("transform", "--stage", str(stage), "--out", "out", env=env, cwd=tmp_path)

    assert run.code == JOB_FAILED, run.stderr
    # Spark announces its log level while starting; after that the one error line only.
    assert "Traceback" not in run.stdout + run.stderr
    assert "\tat " not in run.stderr  # no Java stack trace
    last = run.error_lines[-1]
    assert last.startswith("error: the Spark transform failed: ")
    assert "mHealth_subject1.parquet" in last and " — " in last
    assert [line for line in run.error_lines if line.startswith("error:")] == [last]


# --- the stage not reachable (exit 3) -------------------------------------------------------


@pytest.mark.parametrize(
    "argv", [["query", "--stage", "local", "SELECT 1"], ["run", "--stage", "local", "--wait"]]
)
def test_local_stage_while_the_local_aws_is_down_says_make_up(
    argv: list[str], env: dict[str, str], tmp_path: Path
) -> None:
    run = mhealth(*argv, env=env, cwd=tmp_path)

    assert_one_error_line(
        run, UNREACHABLE, "local AWS is not running", env["MHEALTH_LOCAL_PORT"], "make up"
    )


@pytest.mark.parametrize(
    "argv", [["query", "--stage", "prod", "SELECT 1"], ["run", "--stage", "prod"]]
)
def test_aws_stage_without_a_region_asks_for_one(
    argv: list[str], env: dict[str, str], tmp_path: Path
) -> None:
    run = mhealth(*argv, env=env, cwd=tmp_path)

    assert_one_error_line(run, UNREACHABLE, "no AWS region", "--region")


@pytest.mark.parametrize(
    "argv",
    [
        ["query", "--stage", "prod", "--region", "eu-west-1", "SELECT 1"],
        ["run", "--stage", "prod", "--region", "eu-west-1"],
    ],
)
def test_aws_stage_without_credentials_asks_for_them(
    argv: list[str], env: dict[str, str], tmp_path: Path
) -> None:
    # botocore signs each request before sending it, so without credentials none is sent.
    run = mhealth(*argv, env=env, cwd=tmp_path)

    assert_one_error_line(run, UNREACHABLE, "no AWS credentials", "aws configure")


# --- --debug and MHEALTH_DEBUG ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "extra_env"),
    [
        (["--debug", "query", "--stage", "local", ""], {}),
        (["query", "--stage", "local", "", "--debug"], {}),
        (["query", "--stage", "local", ""], {"MHEALTH_DEBUG": "1"}),
    ],
)
def test_debug_shows_the_traceback_then_the_same_line(
    argv: list[str], extra_env: dict[str, str], env: dict[str, str], tmp_path: Path
) -> None:
    run = mhealth(*argv, env={**env, **extra_env}, cwd=tmp_path)

    assert run.code == USAGE
    assert "Traceback (most recent call last)" in run.stderr
    assert run.error_lines[-1].startswith("error: the SQL is empty — ")


def test_an_unexpected_exception_is_one_line_that_points_to_debug(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A bug (here: a subcommand that raises a plain RuntimeError) still prints one line."""
    script = (
        "import sys, types\n"
        "from mhealth.cli import main as cli\n"
        "module = types.ModuleType('boom')\n"
        "def explode(args): raise RuntimeError('something broke')\n"
        "def register(sub): sub.add_parser('boom').set_defaults(func=explode)\n"
        "module.register = register\n"
        "sys.modules['boom'] = module\n"
        "cli.COMMAND_MODULES += ('boom',)\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    plain = subprocess.run(
        [sys.executable, "-c", script, "boom"], env=env, capture_output=True, text=True, check=False
    )
    debug = subprocess.run(
        [sys.executable, "-c", script, "--debug", "boom"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert_one_error_line(
        Run(plain.returncode, plain.stdout, plain.stderr),
        JOB_FAILED,
        "RuntimeError: something broke",
        "--debug",
    )
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1].startswith("error: unexpected RuntimeError")


# --- nothing half-done: convert -------------------------------------------------------------


def _write_log(path: Path, rows: int) -> None:
    """A valid raw log: 24 TAB-separated values, the last an activity label."""
    label = next(iter(ACTIVITY_LABELS))
    line = "\t".join(["0.5"] * 23 + [str(label)])
    path.write_text("".join(f"{line}\n" for _ in range(rows)), encoding="ascii")


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    folder = tmp_path / "logs"
    folder.mkdir()
    _write_log(folder / "mHealth_subject1.log", 20)
    _write_log(folder / "mHealth_subject2.log", 30)
    (folder / "mHealth_subject3.log").write_text("not\ta\tlog\n", encoding="ascii")
    (folder / "mHealth_subject4.log").write_bytes(b"")
    return folder


def test_convert_with_a_missing_input_writes_nothing(
    logs: Path, env: dict[str, str], tmp_path: Path
) -> None:
    run = mhealth(
        "convert",
        str(logs / "mHealth_subject1.log"),
        str(logs / "mHealth_subject9.log"),
        "--out",
        "out/stage",
        env=env,
        cwd=tmp_path,
    )

    assert_one_error_line(run, USAGE, "mHealth_subject9.log", "no such file")
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.rglob("*.parquet"))
    assert not list(tmp_path.rglob(".mhealth-staging-*"))


def test_convert_checks_every_input_before_converting_any(
    logs: Path, env: dict[str, str], tmp_path: Path
) -> None:
    run = mhealth(
        "convert",
        str(logs / "mHealth_subject1.log"),
        str(logs / "mHealth_subject4.log"),
        str(logs / "notes.txt"),
        "--out",
        "out",
        env=env,
        cwd=tmp_path,
    )

    line = assert_one_error_line(run, USAGE, "2 of 3 inputs", "mHealth_subject4.log", "notes.txt")
    assert "empty" in line
    assert not (tmp_path / "out").exists()


def test_convert_with_a_failing_file_leaves_the_out_folder_as_it_was(
    logs: Path, env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "mHealth_subject1.parquet").write_bytes(b"an earlier run's file")
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    # Subject 1 and 2 convert; subject 3 has no valid line and fails the run.
    run = mhealth(
        "convert",
        *(str(logs / f"mHealth_subject{n}.log") for n in (1, 2, 3)),
        "--out",
        str(out),
        env=env,
        cwd=tmp_path,
    )

    assert_one_error_line(run, JOB_FAILED, "mHealth_subject3.log", "nothing was written")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not list(tmp_path.rglob(".mhealth-staging-*"))


def test_convert_that_succeeds_moves_every_file_into_out(
    logs: Path, env: dict[str, str], tmp_path: Path
) -> None:
    run = mhealth(
        "convert",
        str(logs / "mHealth_subject2.log"),
        str(logs / "mHealth_subject1.log"),
        "--out",
        "new/stage",
        env=env,
        cwd=tmp_path,
    )

    assert run.code == 0, run.stderr
    assert run.stderr == ""
    assert files_under(tmp_path / "new") == [
        "stage",
        "stage/mHealth_subject1.parquet",
        "stage/mHealth_subject2.parquet",
    ]
    assert "total: 50 rows in = 50 written + 0 quarantined, 2 files" in run.stdout
    assert not list(tmp_path.rglob(".mhealth-staging-*"))


# --- nothing half-done: sample --------------------------------------------------------------


@pytest.mark.parametrize(
    ("signum", "code", "said"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "")]
)
def test_sample_interrupted_midway_leaves_nothing(
    signum: signal.Signals, code: int, said: str, env: dict[str, str], tmp_path: Path
) -> None:
    """Ctrl-C or SIGTERM while the logs are being written: no --out folder, no README.txt, no
    staging folder."""
    process = subprocess.Popen(
        [str(MHEALTH), "sample", "--out", "out", "--scale", "1", "--zip"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not any(p.stat().st_size > 0 for p in tmp_path.glob(".mhealth-staging-*/**/*.log")):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no log was started within 120 s"
            time.sleep(0.05)
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == code, stderr
    assert "Traceback" not in stdout + stderr
    assert stderr.strip() == said
    assert files_under(tmp_path) == []


def test_sample_estimate_bounds_what_it_writes(env: dict[str, str], tmp_path: Path) -> None:
    """The free-disk check must not let a sample through that then fills the disk: its
    estimate is at least what the sample writes (the logs and the zip)."""
    from mhealth.cli.sample import estimated_bytes

    run = mhealth("sample", "--out", "out", "--scale", "0.01", "--zip", env=env, cwd=tmp_path)

    assert run.code == 0, run.stderr
    written = sum(p.stat().st_size for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written <= estimated_bytes(0.01, with_zip=True)
    # And not wildly above it: at most twice, so a real disk is not refused for nothing.
    assert estimated_bytes(0.01, with_zip=True) < 2 * written
    # At scale 1 the logs alone are the published rows' lines (of at most 24 fields).
    assert estimated_bytes(1, with_zip=False) >= FULL_SIZE_ROWS * 24 * 2


# --- status is information; help says what runs ---------------------------------------------


def test_make_status_exits_0_when_nothing_runs(env: dict[str, str]) -> None:
    completed = subprocess.run(
        ["make", "--no-print-directory", "status"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "ready=False" in completed.stdout
    assert "Traceback" not in completed.stdout + completed.stderr


def test_demo_help_does_not_speak_of_containers(env: dict[str, str], tmp_path: Path) -> None:
    run = mhealth("demo", "--help", env=env, cwd=tmp_path)

    assert run.code == 0
    assert "container" not in run.stdout.lower()
    assert "--scale" in run.stdout
