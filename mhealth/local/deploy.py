"""The local stage's moving parts: the dataset the Kaggle stand-in serves, and `sls deploy`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from mhealth.download.uci import UCI_DATASET_PATH
from mhealth.local.config import LocalConfig
from mhealth.local.kaggle_standin import dataset_path, publish_dataset, uci_archive_path
from mhealth.settings import DEFAULT_KAGGLE_DATASET

Report = Callable[[str], None]

#: ``MHEALTH_KAGGLE_CREDENTIALS``: which credentials the local stage's secret holds
#: (serverless.yml custom.localKaggleSecrets): an API token (the default) or the legacy pair.
KAGGLE_CREDENTIAL_KINDS = ("token", "legacy")


class DeployError(RuntimeError):
    """`sls deploy --stage local` failed; the message carries the tail of its output."""


@dataclass(frozen=True)
class PublishedDataset:
    zip_path: Path
    rows_by_subject: dict[int, int]
    generated: bool  # False when an identical dataset was already in place

    @property
    def rows(self) -> int:
        return sum(self.rows_by_subject.values())


def served_zip_path(config: LocalConfig) -> Path:
    """Where the stand-in looks for the dataset: ``<datasets>/<owner>/<slug>.zip``."""
    return dataset_path(config.kaggle_datasets_dir, DEFAULT_KAGGLE_DATASET)


def publish_sample(config: LocalConfig, *, scale: float, seed: int) -> PublishedDataset:
    """Generates the synthetic dataset (unless the same scale and seed is already served)
    and puts its zip where the Kaggle stand-in serves it."""
    from mhealth.local.synthetic import write_sample

    target = served_zip_path(config)
    marker = target.with_suffix(".json")
    wanted = {"scale": scale, "seed": seed}
    if target.exists() and marker.exists():
        recorded = json.loads(marker.read_text(encoding="utf-8"))
        if {k: recorded.get(k) for k in wanted} == wanted:
            rows = {int(k): int(v) for k, v in recorded["rows_by_subject"].items()}
            publish_uci_form(config, target)
            return PublishedDataset(target, rows, generated=False)

    work = config.state_dir / "sample"
    shutil.rmtree(work, ignore_errors=True)
    result = write_sample(work, scale=scale, seed=seed, make_zip=True)
    assert result.zip_path is not None
    publish_dataset(config.kaggle_datasets_dir, DEFAULT_KAGGLE_DATASET, result.zip_path)
    rows = dict(result.rows_by_subject)
    publish_uci_form(config, target)
    marker.write_text(json.dumps({**wanted, "rows_by_subject": rows}), encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)
    return PublishedDataset(target, rows, generated=True)


def publish_uci_form(config: LocalConfig, zip_path: Path) -> Path:
    """Serve ``zip_path`` also where the UCI repository serves MHEALTH (dataset 319), for the
    ``uci`` download source. The synthetic zip already has the publisher's layout
    (``MHEALTHDATASET/README.txt`` and the logs), so the bytes are the same."""
    target = uci_archive_path(config.kaggle_datasets_dir, UCI_DATASET_PATH)
    assert target is not None
    if target.exists() and target.stat().st_mtime >= zip_path.stat().st_mtime:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    shutil.copyfile(zip_path, partial)
    partial.replace(target)
    return target


def deploy_environment(config: LocalConfig, base: Mapping[str, str]) -> dict[str, str]:
    """The environment `sls deploy --stage local` runs with: the local AWS's credentials and
    port, no telemetry, nothing that could send it to a real account."""
    environment = dict(base)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        environment.pop(name, None)
    environment.update(
        {
            "AWS_ACCESS_KEY_ID": config.access_key_id,
            "AWS_SECRET_ACCESS_KEY": config.secret_access_key,
            "AWS_DEFAULT_REGION": config.region,
            "AWS_REGION": config.region,
            "MHEALTH_LOCAL_PORT": str(config.edge_port),
            "MHEALTH_STANDIN_PORT": str(config.standin_port),
            "SLS_TELEMETRY_DISABLED": "1",
            "SLS_NOTIFICATIONS_MODE": "off",
            "SLS_INTERACTIVE_SETUP_DISABLE": "1",
            "CI": base.get("CI", "1"),
        }
    )
    return environment


def deploy(config: LocalConfig, *, report: Report = print, timeout_s: float = 900) -> float:
    """Runs `npx sls deploy --stage local` from the repository root; returns its seconds."""
    kind = os.environ.get("MHEALTH_KAGGLE_CREDENTIALS", "token")
    if kind not in KAGGLE_CREDENTIAL_KINDS:
        raise DeployError(
            f"MHEALTH_KAGGLE_CREDENTIALS={kind!r}: use one of {', '.join(KAGGLE_CREDENTIAL_KINDS)}"
        )
    npx = shutil.which("npx")
    if npx is None:
        raise DeployError("npx not found: install Node.js 20 and run `make setup`")
    if not (config.repo_root / "node_modules" / ".bin" / "sls").exists():
        raise DeployError("the Serverless Framework is not installed: run `make setup`")
    log_path = config.state_dir / "sls-deploy.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log_path.open("w", encoding="utf-8") as log:
        completed = subprocess.run(
            [npx, "sls", "deploy", "--stage", "local", "--region", config.region],
            cwd=config.repo_root,
            env=deploy_environment(config, os.environ),
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=timeout_s,
            check=False,
        )
    seconds = time.monotonic() - started
    if completed.returncode != 0:
        tail = "\n".join(log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-25:])
        raise DeployError(
            f"`sls deploy --stage local` failed (exit {completed.returncode}); "
            f"full log: {log_path}\n{tail}"
        )
    report(f"deployed stage local in {seconds:.0f} s (log: {log_path})")
    return seconds
