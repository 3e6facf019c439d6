"""The marker that lets `mhealth local down` find what `up` started without its record, and the
saved state's files (`up --fresh` removes them). Real processes, no LocalStack."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mhealth.local import runtime
from mhealth.local.config import LocalConfig


def _config(state_dir: Path, port: int = 4621) -> LocalConfig:
    return LocalConfig.from_environment(
        {
            "MHEALTH_LOCAL_PORT": str(port),
            "MHEALTH_STANDIN_PORT": str(port + 1),
            "MHEALTH_LOCAL_STATE_DIR": str(state_dir),
        }
    )


def test_parse_environ_reads_nul_separated_pairs() -> None:
    raw = b"A=1\0MHEALTH_LOCAL_INSTANCE=4621@/x/y\0EMPTY=\0WEIRD=a=b\0\0"
    assert runtime.parse_environ(raw) == {
        "A": "1",
        "MHEALTH_LOCAL_INSTANCE": "4621@/x/y",
        "EMPTY": "",
        "WEIRD": "a=b",
    }


def test_instance_id_names_the_port_and_the_state_dir(tmp_path: Path) -> None:
    config = _config(tmp_path / "state", 4700)
    assert config.instance_id == f"4700@{tmp_path / 'state'}"
    assert _config(tmp_path / "other", 4700).instance_id != config.instance_id
    assert _config(tmp_path / "state", 4702).instance_id != config.instance_id


@pytest.fixture
def marked_shell(tmp_path: Path) -> Iterator[tuple[LocalConfig, runtime.ProcessRecord]]:
    """A shell started as `up` starts its processes (own session, the marker), with a child
    that inherits the marker, as LocalStack's Lambda environments do."""
    config = _config(tmp_path / "state")
    record = runtime._spawn(
        runtime.LOCALSTACK,
        ["/bin/sh", "-c", "sleep 300 & wait"],
        cwd=tmp_path,
        env=dict(os.environ),
        log=tmp_path / "shell.log",
        instance=config.instance_id,
    )
    try:
        yield config, record
    finally:
        runtime._signal_group(record, signal.SIGKILL)
        runtime._reap(record.pid)


def _children(pid: int) -> list[int]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if text:
            return [int(child) for child in text]
        time.sleep(0.05)
    pytest.fail(f"pid {pid} started no child")


def test_find_started_finds_the_started_process_not_its_children(
    marked_shell: tuple[LocalConfig, runtime.ProcessRecord],
) -> None:
    config, record = marked_shell
    child = _children(record.pid)[0]
    environ = runtime.parse_environ(Path(f"/proc/{child}/environ").read_bytes())
    assert environ[runtime.INSTANCE_ENV] == config.instance_id  # inherited

    found = runtime.find_started(config)
    assert [(r.name, r.pid, r.start_ticks) for r in found] == [
        (runtime.LOCALSTACK, record.pid, record.start_ticks)
    ]
    assert found[0].argv == ["/bin/sh", "-c", "sleep 300 & wait"]
    assert found[0].log == str(config.localstack_log)
    # Another local AWS (other port, or other state dir) does not see it.
    assert runtime.find_started(_config(config.state_dir, config.edge_port + 10)) == ()
    assert runtime.find_started(_config(config.state_dir / "x", config.edge_port)) == ()


def test_instances_under_matches_state_dirs_inside_a_folder(
    marked_shell: tuple[LocalConfig, runtime.ProcessRecord], tmp_path: Path
) -> None:
    config, record = marked_shell
    assert [p.pid for p in runtime.instances_under(tmp_path)] == [record.pid]
    assert [p.pid for p in runtime.instances_under(config.state_dir)] == [record.pid]
    assert runtime.instances_under(tmp_path / "elsewhere") == []


def test_down_without_a_record_stops_the_marked_group(
    marked_shell: tuple[LocalConfig, runtime.ProcessRecord],
) -> None:
    config, record = marked_shell
    child = _children(record.pid)[0]
    assert not config.record_path.exists()
    messages: list[str] = []

    assert runtime.down(config, report=messages.append) is True

    assert not runtime._is_same_process(record)
    assert runtime._start_ticks(child) is None  # the whole group got SIGTERM
    assert messages[0] == f"Found without a record: localstack (pid {record.pid})"
    assert messages[-1] == f"stopped localstack (pid {record.pid})"
    assert runtime.down(config, report=messages.append) is False
    assert messages[-1] == f"Local AWS is not up at {config.endpoint_url}"


def test_remove_snapshot_and_summary(tmp_path: Path) -> None:
    config = _config(tmp_path / "state")
    assert runtime.snapshot_summary(config) is None
    assert runtime.remove_snapshot(config) is False

    (config.snapshot_dir / "s3").mkdir(parents=True)
    manifest = {"format": 1, "services": ["s3", "glue"], "saved_at": 1_700_000_000.0}
    (config.snapshot_dir / "manifest.json").write_text(json.dumps(manifest))
    # A save interrupted half-way leaves these beside it.
    (config.state_dir / "snapshot.new").mkdir()
    (config.state_dir / "snapshot.old").mkdir()
    assert runtime.snapshot_summary(config) == manifest

    assert runtime.remove_snapshot(config) is True
    assert sorted(p.name for p in config.state_dir.iterdir()) == []
    assert runtime.snapshot_summary(config) is None


def test_the_cli_names_running_instances_under_a_folder(
    marked_shell: tuple[LocalConfig, runtime.ProcessRecord], tmp_path: Path
) -> None:
    config, record = marked_shell
    mhealth = Path(sys.executable).parent / "mhealth"
    found = subprocess.run(
        [str(mhealth), "local", "running", "--under", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout == (
        f"localstack (pid {record.pid}) port {config.edge_port} state {config.state_dir}\n"
    )
    none = subprocess.run(
        [str(mhealth), "local", "running", "--under", str(tmp_path / "nothing")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (none.returncode, none.stdout, none.stderr) == (1, "", "")
