"""`make clean` refuses while the local AWS is up, and `mhealth local down` stops what `up`
started even when its record is gone.

A local AWS of this module's own (free ports, its state in ``<tmp>/.local/``), so that `make
clean` runs in a scratch folder with the project's Makefile and never touches this checkout.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mhealth.local import runtime
from mhealth.local.config import REPO_ROOT, LocalConfig

MHEALTH = str(Path(sys.executable).parent / "mhealth")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A folder to run `make clean` in, and the environment of a local AWS kept in its .local."""
    folder = tmp_path_factory.mktemp("checkout")
    port = _free_port()
    environ = {
        **os.environ,
        "MHEALTH_LOCAL_PORT": str(port),
        "MHEALTH_STANDIN_PORT": str(_free_port()),
        "MHEALTH_LOCAL_STATE_DIR": str(folder / ".local" / f"port-{port}"),
    }
    yield folder, environ
    runtime.down(LocalConfig.from_environment(environ), report=lambda _m: None)


@pytest.fixture
def running(scratch: tuple[Path, dict[str, str]]) -> tuple[Path, dict[str, str], LocalConfig]:
    """That local AWS, up (started if a test before stopped it)."""
    folder, environ = scratch
    config = LocalConfig.from_environment(environ)
    runtime.up(config, report=lambda _m: None)
    return folder, environ, config


def _make_clean(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-s", "-f", str(REPO_ROOT / "Makefile"), "clean", f"VENV={REPO_ROOT / '.venv'}"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _alive(records: tuple[runtime.ProcessRecord, ...]) -> list[str]:
    return [r.name for r in records if runtime._is_same_process(r)]


def test_make_clean_refuses_while_the_local_aws_is_up(
    running: tuple[Path, dict[str, str], LocalConfig],
) -> None:
    folder, _environ, config = running
    (folder / "build").mkdir(exist_ok=True)

    result = _make_clean(folder)

    assert result.returncode != 0
    assert result.stderr.splitlines()[0] == (
        "make clean: the local AWS is up (see make status); run make down first, it keeps its "
        "process record and state in .local"
    )
    assert "Traceback" not in result.stderr
    # Nothing was removed, and the local AWS still answers.
    assert config.record_path.exists()
    assert (folder / "build").is_dir()
    assert runtime.is_healthy(config)


def test_down_stops_what_up_started_without_the_record(
    running: tuple[Path, dict[str, str], LocalConfig],
) -> None:
    folder, environ, config = running
    started = runtime.read_record(config)
    assert sorted(_alive(started)) == [runtime.KAGGLE_STANDIN, runtime.LOCALSTACK]
    config.record_path.unlink()  # what `make clean` used to do

    result = subprocess.run(
        [MHEALTH, "local", "down"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Found without a record: ")
    for record in started:
        assert f"stopped {record.name} (pid {record.pid})" in lines
    assert _alive(started) == []
    assert runtime.find_started(config) == ()
    assert not runtime.is_healthy(config)
    # Nothing runs any more: `make clean` now removes the state.
    cleaned = _make_clean(folder)
    assert cleaned.returncode == 0, cleaned.stderr
    assert not (folder / ".local").exists()


def test_up_without_the_record_adopts_what_runs(
    running: tuple[Path, dict[str, str], LocalConfig],
) -> None:
    _folder, environ, config = running
    started = runtime.read_record(config)
    config.record_path.unlink()

    result = subprocess.run(
        [MHEALTH, "local", "up"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    pids = ", ".join(str(r.pid) for r in runtime.find_started(config))
    assert result.stdout.splitlines()[0] == (
        f"Found the local AWS running without its record (pids {pids})"
    )
    assert "already up" in result.stdout

    # The same processes, recorded again; nothing new was started.
    def identity(records: tuple[runtime.ProcessRecord, ...]) -> set[tuple[str, int, int]]:
        return {(r.name, r.pid, r.start_ticks) for r in records}

    assert identity(runtime.read_record(config)) == identity(started)
