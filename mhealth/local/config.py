"""Settings of the local stage: where the local AWS and the Kaggle stand-in listen, and their files.

The fixed values live in ``local_stage.json`` beside this module, which ``serverless.yml``
reads too (``${file(mhealth/local/local_stage.json):edgePort}``); the environment may move
the ports (``MHEALTH_LOCAL_PORT``, ``MHEALTH_STANDIN_PORT``) so that several local stages can
run side by side.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

#: The repository this package is installed from (editable install: mhealth/local/ → repo).
REPO_ROOT: Final = Path(__file__).resolve().parents[2]

#: LocalStack services the pipeline uses; glue and athena come from the mhealth extension.
PIPELINE_SERVICES: Final = (
    "s3",
    "lambda",
    "iam",
    "sts",
    "logs",
    "cloudformation",
    "stepfunctions",
    "events",
    "secretsmanager",
    "sns",
    "sqs",  # to watch the failure topic (SNS → SQS) in tests and by hand
    "glue",
    "athena",
    "ssm",
    "cloudwatch",
)


def load_local_stage() -> dict[str, Any]:
    """The fixed local-stage values (``local_stage.json``)."""
    text = resources.files("mhealth.local").joinpath("local_stage.json").read_text("utf-8")
    values: dict[str, Any] = json.loads(text)
    return values


def _port(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"{name} must be a TCP port number, got {raw!r}")
    return int(raw)


#: A wildcard bind (every interface, asked for in a container) is reached on loopback.
_WILDCARD_TO_LOOPBACK: Final = {"0.0.0.0": "127.0.0.1", "::": "::1"}


#: ``MHEALTH_IAM`` values: requests signed with a role's credentials are refused where AWS
#: would refuse them (enforce), only recorded (log), or not evaluated (off).
IAM_MODES = ("enforce", "log", "off")


def _iam_mode(environ: Mapping[str, str]) -> str:
    mode = environ.get("MHEALTH_IAM", "").strip().lower() or "enforce"
    if mode not in IAM_MODES:
        raise ValueError(f"MHEALTH_IAM must be one of {', '.join(IAM_MODES)}, not {mode!r}")
    return mode


def url_host(host: str) -> str:
    """``host`` as it stands in a URL: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True)
class LocalConfig:
    """Where the local AWS runs and which files it uses. Build it with ``from_environment``."""

    repo_root: Path
    state_dir: Path
    edge_host: str
    edge_port: int
    bind_host: str  # where LocalStack listens: edge_host, or 0.0.0.0 inside a container
    region: str
    access_key_id: str
    secret_access_key: str
    standin_host: str
    standin_port: int
    standin_username: str
    standin_key: str
    #: The API token the stand-in issues (to standin_username), as the local secret holds it.
    standin_token: str
    kaggle_datasets_dir: Path
    #: IAM on the local stage (``MHEALTH_IAM``): enforce | log | off.
    iam_mode: str = "enforce"

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, repo_root: Path = REPO_ROOT
    ) -> LocalConfig:
        """Defaults from ``local_stage.json``; ``MHEALTH_LOCAL_PORT`` / ``MHEALTH_STANDIN_PORT``
        move the ports, ``MHEALTH_LOCAL_STATE_DIR`` the state dir. A moved edge port gets its
        own state dir (``.local/port-<port>``) so two local stages never share a PID record."""
        env = os.environ if environ is None else environ
        stage = load_local_stage()
        edge_port = _port(env, "MHEALTH_LOCAL_PORT", int(stage["edgePort"]))
        default_state = repo_root / stage["stateDir"]
        if edge_port != int(stage["edgePort"]):
            default_state = default_state / f"port-{edge_port}"
        bind_host = env.get("MHEALTH_LOCAL_BIND", "").strip().strip("[]") or stage["edgeHost"]
        explicit_state = env.get("MHEALTH_LOCAL_STATE_DIR", "").strip()
        state_dir = Path(explicit_state).resolve() if explicit_state else default_state
        return cls(
            repo_root=repo_root,
            state_dir=state_dir,
            # Clients reach a wildcard listener on loopback, a specific one on its own address.
            edge_host=_WILDCARD_TO_LOOPBACK.get(bind_host, bind_host),
            edge_port=edge_port,
            bind_host=bind_host,
            region=stage["region"],
            access_key_id=stage["accessKeyId"],
            secret_access_key=stage["secretAccessKey"],
            standin_host=stage["kaggleStandinHost"],
            standin_port=_port(env, "MHEALTH_STANDIN_PORT", int(stage["kaggleStandinPort"])),
            standin_username=stage["kaggleUsername"],
            standin_key=stage["kaggleKey"],
            standin_token=stage["kaggleToken"],
            kaggle_datasets_dir=state_dir / "kaggle-datasets",
            iam_mode=_iam_mode(env),
        )

    @property
    def endpoint_url(self) -> str:
        """The LocalStack edge, as boto3's ``endpoint_url`` / ``AWS_ENDPOINT_URL``."""
        return f"http://{url_host(self.edge_host)}:{self.edge_port}"

    @property
    def gateway_listen(self) -> str:
        """LocalStack's ``GATEWAY_LISTEN``: the one address it binds (IPv6 in brackets)."""
        return f"{url_host(self.bind_host)}:{self.edge_port}"

    def clients(self, region: str | None = None) -> Callable[[str], Any]:
        """A ``service -> boto3 client`` factory bound to the local AWS (its endpoint and
        credentials)."""
        from mhealth import aws

        return aws.client_factory(
            region=region or self.region,
            endpoint_url=self.endpoint_url,
            credentials=(self.access_key_id, self.secret_access_key),
        )

    @property
    def standin_url(self) -> str:
        """The Kaggle stand-in's base URL."""
        return f"http://{self.standin_host}:{self.standin_port}"

    @property
    def venv(self) -> Path:
        """The project virtualenv (Python 3.12): runs python3.12 Lambda code and the stand-in."""
        return self.repo_root / ".venv"

    @property
    def venv_glue(self) -> Path:
        """Glue 5.0's runtime (Python 3.11, pyspark, Glue's provided modules): runs job scripts."""
        return self.repo_root / ".venv-glue"

    @property
    def glue_python(self) -> Path:
        return self.venv_glue / "bin" / "python"

    @property
    def venv_localstack(self) -> Path:
        """LocalStack's own virtualenv (Python 3.13)."""
        return self.repo_root / ".venv-localstack"

    @property
    def project_python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def localstack_python(self) -> Path:
        return self.venv_localstack / "bin" / "python"

    @property
    def record_path(self) -> Path:
        """The JSON record of the processes ``mhealth local up`` started."""
        return self.state_dir / "local-aws.json"

    @property
    def iam_decisions_path(self) -> Path:
        """Every IAM decision of the running local AWS, one JSON object a line."""
        return self.state_dir / "iam-decisions.jsonl"

    @property
    def snapshot_dir(self) -> Path:
        """The local AWS's state, written when LocalStack stops and loaded when it starts."""
        return self.state_dir / "snapshot"

    @property
    def instance_id(self) -> str:
        """What marks the processes ``up`` starts (``MHEALTH_LOCAL_INSTANCE``): the edge port and
        the state dir, so that ``down`` finds them again without its record."""
        return f"{self.edge_port}@{self.state_dir}"

    @property
    def localstack_log(self) -> Path:
        return self.state_dir / "localstack.log"

    @property
    def standin_log(self) -> Path:
        return self.state_dir / "kaggle-standin.log"
