"""The local stack listens only where it is told: the socket table and a refused connection.

It runs Lambda code and Glue scripts as host processes, so a wildcard listener would let
anyone on the network run code on this machine. Traffic here goes to loopback addresses only.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from mhealth.local import runtime
from mhealth.local.config import LocalConfig

WILDCARDS = ("0.0.0.0:", "[::]:")


def _free_port(family: socket.AddressFamily, host: str) -> int:
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def _connect(family: socket.AddressFamily, host: str, port: int) -> None:
    with socket.socket(family, socket.SOCK_STREAM) as client:
        client.settimeout(5.0)
        client.connect((host, port))


def _listening(config: LocalConfig) -> dict[str, tuple[str, ...]]:
    return {p.name: p.listening for p in runtime.status(config).processes if p.alive}


def test_local_aws_listens_only_on_the_configured_loopback_address(local_aws: LocalConfig) -> None:
    listening = _listening(local_aws)
    if not listening:
        pytest.fail("the local AWS of this session was not started by `mhealth local up`")
    assert listening[runtime.LOCALSTACK] == (f"127.0.0.1:{local_aws.edge_port}",)
    assert listening[runtime.KAGGLE_STANDIN] == (f"127.0.0.1:{local_aws.standin_port}",)
    # 127.0.0.2 is loopback too: a listener on 0.0.0.0 would accept it.
    for port in (local_aws.edge_port, local_aws.standin_port):
        with pytest.raises(ConnectionRefusedError):
            _connect(socket.AF_INET, "127.0.0.2", port)
        _connect(socket.AF_INET, "127.0.0.1", port)


@pytest.fixture
def ipv6_local_aws(tmp_path: Path) -> Iterator[LocalConfig]:
    environ = {
        "MHEALTH_LOCAL_BIND": "::1",
        "MHEALTH_LOCAL_PORT": str(_free_port(socket.AF_INET6, "::1")),
        "MHEALTH_STANDIN_PORT": str(_free_port(socket.AF_INET, "127.0.0.1")),
        "MHEALTH_LOCAL_STATE_DIR": str(tmp_path / "state"),
    }
    config = LocalConfig.from_environment(environ)
    runtime.up(config, report=lambda message: None)
    try:
        yield config
    finally:
        runtime.down(config, report=lambda message: None)


def test_an_ipv6_bind_listens_on_that_address_alone(ipv6_local_aws: LocalConfig) -> None:
    port = ipv6_local_aws.edge_port
    assert ipv6_local_aws.endpoint_url == f"http://[::1]:{port}"
    listening = _listening(ipv6_local_aws)[runtime.LOCALSTACK]
    assert listening == (f"[::1]:{port}",)
    assert not any(address.startswith(WILDCARDS) for address in listening)
    _connect(socket.AF_INET6, "::1", port)
    with pytest.raises(ConnectionRefusedError):
        _connect(socket.AF_INET, "127.0.0.1", port)
    assert runtime.is_healthy(ipv6_local_aws)
