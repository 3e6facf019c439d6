"""LocalConfig: the local stage's fixed values, and the ports and state dir the env moves."""

from __future__ import annotations

from pathlib import Path

import pytest

from mhealth.local.config import LocalConfig, load_local_stage


def test_defaults_come_from_local_stage_json() -> None:
    stage = load_local_stage()

    config = LocalConfig.from_environment({}, repo_root=Path("/repo"))

    assert config.endpoint_url == f"http://127.0.0.1:{stage['edgePort']}" == "http://127.0.0.1:4566"
    assert config.standin_url == "http://127.0.0.1:4599"
    assert (config.standin_username, config.standin_key) == (
        "local-kaggle-user",
        "local-kaggle-key",
    )
    assert config.state_dir == Path("/repo/.local")
    assert config.record_path == Path("/repo/.local/local-aws.json")
    assert config.localstack_python == Path("/repo/.venv-localstack/bin/python")
    assert config.kaggle_datasets_dir == Path("/repo/.local/kaggle-datasets")


def test_moved_edge_port_gets_its_own_state_dir() -> None:
    config = LocalConfig.from_environment(
        {"MHEALTH_LOCAL_PORT": "4621", "MHEALTH_STANDIN_PORT": "4622"}, repo_root=Path("/repo")
    )

    assert config.endpoint_url == "http://127.0.0.1:4621"
    assert config.standin_url == "http://127.0.0.1:4622"
    assert config.state_dir == Path("/repo/.local/port-4621")


def test_explicit_state_dir_wins() -> None:
    config = LocalConfig.from_environment(
        {"MHEALTH_LOCAL_PORT": "4621", "MHEALTH_LOCAL_STATE_DIR": "/tmp/elsewhere"},
        repo_root=Path("/repo"),
    )

    assert config.state_dir == Path("/tmp/elsewhere")


@pytest.mark.parametrize("value", ["abc", "0", "70000", "-1"])
def test_invalid_port_is_rejected_with_its_name(value: str) -> None:
    with pytest.raises(ValueError, match="MHEALTH_LOCAL_PORT"):
        LocalConfig.from_environment({"MHEALTH_LOCAL_PORT": value}, repo_root=Path("/repo"))


@pytest.mark.parametrize(
    ("bind", "listen", "endpoint"),
    [
        ("", "127.0.0.1:4566", "http://127.0.0.1:4566"),
        ("::1", "[::1]:4566", "http://[::1]:4566"),
        ("[::1]", "[::1]:4566", "http://[::1]:4566"),
        # Asked for in the container: every interface, reached on loopback from inside.
        ("0.0.0.0", "0.0.0.0:4566", "http://127.0.0.1:4566"),
        ("::", "[::]:4566", "http://[::1]:4566"),
    ],
)
def test_bind_address_sets_what_localstack_listens_on_and_where_clients_go(
    bind: str, listen: str, endpoint: str
) -> None:
    config = LocalConfig.from_environment({"MHEALTH_LOCAL_BIND": bind}, repo_root=Path("/repo"))

    assert config.gateway_listen == listen
    assert config.endpoint_url == endpoint


def test_the_local_aws_saves_its_state_unless_told_not_to(tmp_path: Path) -> None:
    from mhealth.local.runtime import localstack_environment

    config = LocalConfig.from_environment({"MHEALTH_LOCAL_STATE_DIR": str(tmp_path)})

    kept = localstack_environment(config, {})
    assert kept["MHEALTH_SNAPSHOT_DIR"] == str(tmp_path / "snapshot")
    for off in ("0", " 0 "):
        started = localstack_environment(
            config, {"MHEALTH_LOCAL_PERSIST": off, "MHEALTH_SNAPSHOT_DIR": "/elsewhere"}
        )
        assert "MHEALTH_SNAPSHOT_DIR" not in started
