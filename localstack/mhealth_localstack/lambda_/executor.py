"""LocalStack Lambda runtime executor ``local``: each execution environment is a host process.

Selected with ``LAMBDA_RUNTIME_EXECUTOR=local``. Where the Docker executor starts a container
running LocalStack's Go init, this one starts ``lambda_/runtime.py supervise`` with the Python of
the function's declared runtime (``python3.12`` → ``MHEALTH_LAMBDA_PYTHON`` when that is a 3.12,
else a ``python3.12`` found on PATH or in pyenv; likewise ``python3.11``, ``python3.13``; none
found is a clear error at function creation). That process speaks the same protocol with
LocalStack's ``ExecutorEndpoint``, so invocations, errors, timeouts and logs (CloudWatch Logs
``/aws/lambda/<name>``) flow through LocalStack's own Lambda service.

Each environment gets the function's memory size and its own ``/tmp`` of the function's ephemeral
storage size where the machine allows it (``lambda_/sandbox.py``).

Nothing is downloaded: the Docker executor fetches the Go init binary in ``prepare_version``
(``get_runtime_client_path``); this executor never calls it.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from http import HTTPStatus
from pathlib import Path

from localstack.http import Response
from localstack.services.lambda_.invocation.executor_endpoint import (
    ExecutorEndpoint,
    StatusErrorException,
)
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)
from werkzeug import Request

from localstack import config
from mhealth_localstack import gateway, processes
from mhealth_localstack.credentials import local_environment
from mhealth_localstack.lambda_ import sandbox as lambda_sandbox

LOG = logging.getLogger(__name__)

#: The runtime-interface script the host process runs (stdlib only, any Python >= 3.11).
RUNTIME_SCRIPT = Path(__file__).with_name("runtime.py")
#: Paths the container image would have; on the host they point into the environment's folders.
CONTAINER_TASK_ROOT = "/var/task"
CONTAINER_TMP = "/tmp"
#: Seconds ``stop`` waits after SIGTERM before it kills the environment's processes.
STOP_GRACE_SECONDS = 3.0
#: Host variables a function process inherits; everything else comes from LocalStack's env.
INHERITED_VARIABLES = ("PATH", "LANG", "LC_ALL", "JAVA_HOME", "SSL_CERT_FILE", "SSL_CERT_DIR")
#: The plain local credentials, used only with ``MHEALTH_IAM=off``; otherwise a function acts
#: as its role with the temporary credentials LocalStack's Lambda service assumed for it.
ROLE_CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


class HostProcessRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    """Entry point ``localstack.lambda.runtime_executor:local``."""

    name = "local"

    def load(self, *args: object, **kwargs: object) -> type[RuntimeExecutor]:
        return HostProcessRuntimeExecutor


def _runs_python(candidate: str, version: str) -> str | None:
    """Why ``candidate`` cannot run ``python<version>`` Lambda code, or None when it can."""
    try:
        answer = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as error:
        return str(error)
    found = answer.stdout.strip()
    return None if found == version else f"is Python {found}"


def _interpreter_candidates(version: str) -> list[str]:
    """Where ``python<version>`` may be: PATH (every entry: a pyenv shim can come first yet fail
    to run), then pyenv's versions and the usual prefixes, as scripts/find-python looks."""
    name = f"python{version}"
    found = [shutil.which(name, path=directory) for directory in os.get_exec_path()]
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    if pyenv.is_dir():
        found += [str(path / "bin" / name) for path in sorted(pyenv.glob(f"{version}*"))]
    found += [f"{prefix}/{name}" for prefix in ("/usr/local/bin", "/usr/bin")]
    return [path for path in dict.fromkeys(found) if path and os.access(path, os.X_OK)]


@functools.cache
def lambda_python(runtime: str = "python3.12") -> str:
    """Absolute path of the interpreter for a Python runtime (``python3.12`` → a Python 3.12),
    checked to start once. ``MHEALTH_LAMBDA_PYTHON`` (the project's virtualenv) serves the
    runtime of its own version; other runtimes get that version's plain interpreter."""
    version = runtime.removeprefix("python")
    configured = os.environ.get("MHEALTH_LAMBDA_PYTHON", "").strip()
    candidates = [configured] if configured else []
    candidates += _interpreter_candidates(version)
    problems: list[str] = []
    for candidate in candidates:
        problem = _runs_python(candidate, version)
        if problem is None:
            return os.path.abspath(candidate)
        problems.append(f"{candidate}: {problem}")
    raise LambdaRuntimeException(
        f"The function's runtime is {runtime}, and no Python {version} was found to run it "
        f"({'; '.join(problems) or f'python{version} is not on PATH'}). Install Python "
        f"{version} (scripts/find-python {version} looks where this does), or declare a "
        "runtime whose Python is installed."
    )


def environments_root() -> Path:
    """Where per-environment folders (tmp, home, runtime log) live."""
    state_dir = os.environ.get("MHEALTH_STATE_DIR", "").strip()
    root = (
        Path(state_dir) / "lambda-environments"
        if state_dir
        else Path(config.dirs.tmp) / "mhealth-lambda"
    )
    root.mkdir(parents=True, exist_ok=True)
    return root


def layer_python_paths(function_version: FunctionVersion) -> list[str]:
    """The layers' ``python`` folders in AWS's order (``/opt/python/lib/python3.x/site-packages``
    and ``/opt/python`` of each layer)."""
    paths: list[str] = []
    runtime = str(function_version.config.runtime or "python3.12")
    for layer in function_version.config.layers or []:
        code = getattr(layer, "code", None)
        if code is None:
            continue
        python_dir = Path(code.get_unzipped_code_location()) / "python"
        for path in (python_dir / "lib" / runtime / "site-packages", python_dir):
            if path.is_dir():
                paths.append(str(path))
    return paths


def rewrite_container_path(value: str, *, task_root: str, tmp_dir: str) -> str:
    """Map a container path (``/var/task…``, ``/tmp…``) to its host folder; others unchanged."""
    for container, host in ((CONTAINER_TASK_ROOT, task_root), (CONTAINER_TMP, tmp_dir)):
        if value == container or value.startswith(container + "/"):
            return host + value[len(container) :]
    return value


def host_environment(
    env_vars: Mapping[str, object],
    *,
    task_root: str,
    tmp_dir: str,
    home_dir: str,
    runtime_dir: str,
    endpoint_url: str,
    inherited: Mapping[str, str],
    account_id: str,
    role_credentials: bool = True,
) -> dict[str, str]:
    """The environment of a function process: LocalStack's container env with host paths.

    ``/var/task`` and ``/tmp`` (also inside the function's own variables, e.g. a scratch dir
    ``/tmp/work``) become the code folder and the environment's private tmp folder; TMPDIR
    points there too, so ``tempfile`` writes there. boto3 reaches LocalStack through
    AWS_ENDPOINT_URL, signing as the function's role (the temporary credentials in
    ``env_vars``, as on AWS) or, with ``role_credentials=False``, as the function's account
    (``local_environment``).
    """
    environment = {name: inherited[name] for name in INHERITED_VARIABLES if name in inherited}
    environment.setdefault("LANG", "C.UTF-8")
    for name, value in env_vars.items():
        environment[name] = rewrite_container_path(str(value), task_root=task_root, tmp_dir=tmp_dir)
    environment.update(
        {
            "LAMBDA_TASK_ROOT": task_root,
            "LAMBDA_RUNTIME_DIR": runtime_dir,
            "TMPDIR": tmp_dir,
            "TMP": tmp_dir,
            "TEMP": tmp_dir,
            "HOME": home_dir,
        }
    )
    if not role_credentials or not all(environment.get(n) for n in ROLE_CREDENTIAL_VARIABLES):
        environment.update(local_environment(account_id))
        environment.pop("AWS_SESSION_TOKEN", None)
    environment.setdefault("AWS_ENDPOINT_URL", endpoint_url)
    return environment


def _is_tmp(*paths: str) -> bool:
    """True if a folder the environment needs is ``/tmp`` itself, which no private tmpfs can
    cover while keeping it (folders *under* ``/tmp`` are bound back over the tmpfs)."""
    return any(os.path.realpath(path) == CONTAINER_TMP for path in paths)


class HostProcessExecutorEndpoint(ExecutorEndpoint):
    """LocalStack's executor endpoint, learning the process's invoke port from its ready report."""

    def status_ready(self, request: Request, executor_id: str) -> Response:
        try:
            self.container_port = int(json.loads(request.data or b"{}")["port"])
        except (ValueError, KeyError, TypeError):
            LOG.warning("Ready report of %s carries no port: %r", executor_id, request.data)
            return Response(status=HTTPStatus.BAD_REQUEST)
        return super().status_ready(request, executor_id)


class HostProcessRuntimeExecutor(RuntimeExecutor):
    """One execution environment = one ``lambda_/runtime.py supervise`` process on this host."""

    executor_endpoint: HostProcessExecutorEndpoint

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self.executor_endpoint = HostProcessExecutorEndpoint(self.id, container_address="127.0.0.1")
        self.process: subprocess.Popen[bytes] | None = None
        self.environment_dir: Path | None = None
        self.memory_cgroup: Path | None = None
        self._stopping = threading.Event()

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, env_vars: dict[str, str]) -> None:
        self.executor_endpoint.start()
        code = self.function_version.config.code
        if code is None:
            raise LambdaRuntimeException("The local executor runs zip-packaged functions only.")
        name = self.function_version.id.function_name
        runtime = str(self.function_version.config.runtime or "python3.12")
        python = lambda_python(runtime)
        sandbox = lambda_sandbox.detect(python, RUNTIME_SCRIPT)
        self.environment_dir = Path(
            tempfile.mkdtemp(prefix=f"{name}-{self.id[:8]}-", dir=environments_root())
        )
        home_dir = self.environment_dir / "home"
        home_dir.mkdir()
        task_root = str(code.get_unzipped_code_location())
        memory_mb = int(self.function_version.config.memory_size)
        storage = self.function_version.config.ephemeral_storage
        tmp_mb = int(storage.size) if storage is not None else 512
        # What must stay visible under a private /tmp: the code, this runtime, the environment's
        # folder, the interpreter's virtualenv and the layers (all on the host when the project
        # itself lies under /tmp).
        needed = [
            task_root,
            str(RUNTIME_SCRIPT.parent),
            str(self.environment_dir),
            str(Path(python).parent.parent),
            *layer_python_paths(self.function_version),
        ]
        private_tmp = sandbox.private_tmp_problem is None and not _is_tmp(*needed)
        if sandbox.private_tmp_problem is None and not private_tmp:
            LOG.warning(
                "Environment %s of %s gets no private /tmp: its code or runtime lies under /tmp "
                "(set TMPDIR for LocalStack elsewhere, as `mhealth local up` does)",
                self.id,
                name,
            )
        if private_tmp:
            tmp_dir = CONTAINER_TMP  # the environment's own tmpfs, mounted by the runtime
        else:
            tmp_dir = str(self.environment_dir / "tmp")
            Path(tmp_dir).mkdir()
        environment = host_environment(
            env_vars,
            task_root=task_root,
            tmp_dir=tmp_dir,
            home_dir=str(home_dir),
            runtime_dir=str(RUNTIME_SCRIPT.parent),
            endpoint_url=gateway.edge_url(),
            inherited=os.environ,
            account_id=self.function_version.id.account,
            role_credentials=os.environ.get("MHEALTH_IAM", "enforce").strip().lower() != "off",
        )
        command = [
            python,
            "-P",
            str(RUNTIME_SCRIPT),
            "supervise",
            "--host",
            self.get_address(),
            "--parent-pid",
            str(os.getpid()),
            "--python-path",
            task_root,
        ]
        for path in layer_python_paths(self.function_version):
            command += ["--python-path", path]
        if private_tmp:
            command += ["--private-tmp-mb", str(tmp_mb)]
            for path in needed:
                command += ["--keep-path", path]
        if sandbox.memory is not None:
            # The kernel's hard limit covers memory and the tmpfs (charged to the same cgroup);
            # the runtime kills the function at its memory size, counting /tmp apart.
            self.memory_cgroup = sandbox.memory.create(
                f"{name}-{self.id}", (memory_mb + (tmp_mb if private_tmp else 0)) * 1024 * 1024
            )
            command += ["--memory-cgroup", str(self.memory_cgroup)]
        LOG.debug("Starting host-process environment %s for %s: %s", self.id, name, command)
        with (self.environment_dir / "runtime.log").open("wb") as log_file:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=environment,
                cwd=task_root,
                # Own session: stop() signals the whole environment and nothing else.
                start_new_session=True,
            )
        threading.Thread(
            target=self._watch_process, name=f"lambda-env-{self.id[:8]}", daemon=True
        ).start()
        self.executor_endpoint.wait_for_startup()  # type: ignore[no-untyped-call]

    def _watch_process(self) -> None:
        """Fail fast when the environment's process dies, instead of waiting for timeouts."""
        assert self.process is not None
        code = self.process.wait()
        if self._stopping.is_set():
            return
        message = f"Lambda environment process exited with code {code}:\n{self.get_logs()[-4000:]}"
        LOG.warning("%s (function %s)", message, self.function_version.qualified_arn)
        startup = self.executor_endpoint.startup_future
        if startup is not None and not startup.done():
            error = {"errorType": "Runtime.ExitError", "errorMessage": message}
            startup.set_exception(
                StatusErrorException("Environment startup failed", json.dumps(error).encode())
            )
        invocation = self.executor_endpoint.invocation_future
        if invocation is not None and not invocation.done():
            invocation.set_exception(LambdaRuntimeException(message))

    def stop(self) -> None:
        self._stopping.set()
        if self.process is not None and self.process.poll() is None:
            processes.stop_group(self.process, grace_seconds=STOP_GRACE_SECONDS)
        try:
            self.executor_endpoint.shutdown()
        except Exception as error:
            LOG.debug("Error shutting down executor endpoint %s: %s", self.id, error)
        if self.memory_cgroup is not None:
            lambda_sandbox.remove_cgroup(self.memory_cgroup)
        if self.environment_dir is not None:
            shutil.rmtree(self.environment_dir, ignore_errors=True)

    # -- addresses -----------------------------------------------------------------------------

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        # Function processes share the host's network: the gateway as this host reaches it.
        return gateway.edge_hostname()

    def get_runtime_endpoint(self) -> str:
        prefix = self.executor_endpoint.get_endpoint_prefix()  # type: ignore[no-untyped-call]
        return f"{gateway.edge_url()}{prefix}"

    # -- invocations ---------------------------------------------------------------------------

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        return self.executor_endpoint.invoke(payload)

    def get_logs(self) -> str:
        if self.environment_dir is None:
            return "Environment was not started"
        try:
            return (self.environment_dir / "runtime.log").read_text(errors="replace")
        except FileNotFoundError:
            return "Environment log is gone"

    # -- versions ------------------------------------------------------------------------------

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        runtime = str(function_version.config.runtime or "")
        if not runtime.startswith("python"):
            raise LambdaRuntimeException(
                "The local Lambda executor runs Python zip functions only, "
                f"not {runtime or 'images'}."
            )
        lambda_python(runtime)
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()
        for layer in function_version.config.layers or []:
            layer_code = getattr(layer, "code", None)
            if layer_code is not None:
                layer_code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass  # the unzipped code belongs to LocalStack, which removes it with the version

    @classmethod
    def validate_environment(cls) -> bool:
        try:
            python = lambda_python()
        except LambdaRuntimeException as error:
            LOG.warning("%s", error)
            return False
        LOG.info("Lambda functions (python3.12) run as host processes with %s", python)
        lambda_sandbox.detect(python, RUNTIME_SCRIPT)  # logs once what limits apply here
        return True
