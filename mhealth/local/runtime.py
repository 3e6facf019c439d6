"""Start, stop and inspect the local AWS: LocalStack with the mhealth extension, Kaggle stand-in.

Both run as host processes. ``up`` records what it started in ``<state>/local-aws.json``;
``down`` stops exactly those processes (PID plus its start time, so a recycled PID is never
signalled). Each process also carries ``MHEALTH_LOCAL_INSTANCE=<port>@<state dir>`` in its
environment, so ``down`` finds what ``up`` started even when the record is gone (``make
clean``), by what it is rather than by its name.

LocalStack writes its state to ``<state>/snapshot`` when it stops and loads it when it starts
(the extension's ``persistence.py``); ``up(fresh=True)`` removes it first.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from mhealth.local.config import PIPELINE_SERVICES, LocalConfig

#: Service states in ``/_localstack/health`` that mean "answers requests".
READY_STATES: Final = frozenset({"available", "running"})
#: How long ``up`` waits for LocalStack and the stand-in to become healthy.
DEFAULT_START_TIMEOUT_S: Final = 180.0
#: How long ``down`` waits after SIGTERM before SIGKILL: LocalStack writes its snapshot then
#: (S3 object bytes included), which takes seconds for the full dataset.
STOP_GRACE_S: Final = 90.0
#: The environment marker of every process ``up`` starts (children inherit it).
INSTANCE_ENV: Final = "MHEALTH_LOCAL_INSTANCE"
#: Which of them it is: ``localstack`` or ``kaggle-standin``.
ROLE_ENV: Final = "MHEALTH_LOCAL_PROCESS"
LOCALSTACK: Final = "localstack"
KAGGLE_STANDIN: Final = "kaggle-standin"
STANDIN_MODULE: Final = "mhealth.local.kaggle_standin"

# Loopback calls must never go through a proxy from the environment.
_URL_OPENER: Final = urllib.request.build_opener(urllib.request.ProxyHandler({}))

Report = Callable[[str], None]


class LocalRuntimeError(RuntimeError):
    """The local AWS cannot be started, stopped or reached; the message says what to do."""


class LocalRequestError(LocalRuntimeError):
    """What was asked does not fit the local AWS's state (e.g. ``up --fresh`` while it runs)."""


@dataclass(frozen=True)
class ProcessRecord:
    """One process ``up`` started: enough to find it again and to prove it is the same one."""

    name: str
    pid: int
    start_ticks: int
    argv: list[str]
    log: str


@dataclass(frozen=True)
class UpResult:
    """What ``up`` did: ``started`` is False when everything was already running."""

    started: bool
    endpoint_url: str
    processes: tuple[ProcessRecord, ...]


@dataclass(frozen=True)
class ProcessStatus:
    name: str
    pid: int
    alive: bool
    log: str
    listening: tuple[str, ...] = ()  # "host:port" of every TCP listener in its process group


@dataclass(frozen=True)
class Status:
    """What runs where: the recorded processes, the health of each service, the stand-in."""

    endpoint_url: str
    standin_url: str
    processes: tuple[ProcessStatus, ...]
    services: Mapping[str, str]
    standin_healthy: bool
    record_path: str

    @property
    def localstack_ready(self) -> bool:
        return all(self.services.get(name) in READY_STATES for name in PIPELINE_SERVICES)


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


def _start_ticks(pid: int) -> int | None:
    """The start time (clock ticks since boot) of a live process, None if gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = stat.rpartition(")")[2].split()
    state, start_ticks = fields[0], int(fields[19])
    return None if state in ("Z", "X") else start_ticks


def _is_same_process(record: ProcessRecord) -> bool:
    return _start_ticks(record.pid) == record.start_ticks


def _spawn(
    name: str, argv: list[str], *, cwd: Path, env: Mapping[str, str], log: Path, instance: str
) -> ProcessRecord:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as log_file:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**env, INSTANCE_ENV: instance, ROLE_ENV: name},
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            # Own session: survives the CLI that started it, and down() signals its whole group.
            start_new_session=True,
        )
    ticks = _start_ticks(process.pid)
    if ticks is None:
        raise LocalRuntimeError(f"{name} exited at once; see {log}")
    return ProcessRecord(name=name, pid=process.pid, start_ticks=ticks, argv=argv, log=str(log))


def _signal_group(record: ProcessRecord, signum: signal.Signals) -> None:
    if not _is_same_process(record):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(record.pid, signum)


def _stop(record: ProcessRecord, report: Report) -> None:
    """SIGTERM the process's group, then SIGKILL it after a grace period."""
    if not _is_same_process(record):
        report(f"{record.name} (pid {record.pid}) is not running")
        return
    _signal_group(record, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline:
        _reap(record.pid)
        if not _is_same_process(record):
            report(f"stopped {record.name} (pid {record.pid})")
            return
        time.sleep(0.2)
    _signal_group(record, signal.SIGKILL)
    report(f"killed {record.name} (pid {record.pid}) after {STOP_GRACE_S:.0f} s")


def _process_group(pgid: int) -> list[int]:
    """Every live process in process group ``pgid``: what ``up`` started, and its children."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(int(target[8:-1]))
    return inodes


def _decode_address(hex_address: str) -> str:
    """``0100007F:11D6`` → ``127.0.0.1:4566``; the IPv6 form → ``[::1]:4566``."""
    host_hex, port_hex = hex_address.split(":")
    raw = bytes.fromhex(host_hex)
    # /proc/net/tcp{,6} prints each 32-bit word of the address in host (little-endian) order.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    family = socket.AF_INET if len(words) == 4 else socket.AF_INET6
    host = socket.inet_ntop(family, words)
    port = int(port_hex, 16)
    return f"{host}:{port}" if family == socket.AF_INET else f"[{host}]:{port}"


_TCP_LISTEN: Final = "0A"


def listening_addresses(pgid: int) -> tuple[str, ...]:
    """The addresses on which the processes of group ``pgid`` accept TCP connections, from the
    kernel's socket table (``/proc/net/tcp``, ``/proc/net/tcp6``), sorted."""
    inodes: set[int] = set()
    for pid in _process_group(pgid):
        inodes |= _socket_inodes(pid)
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == _TCP_LISTEN and int(fields[9]) in inodes:
                    found.add(_decode_address(fields[1]))
    return tuple(sorted(found))


def _reap(pid: int) -> None:
    # A child of this very process (up and down in one test session) stays a zombie until
    # it is waited for; elsewhere this is a no-op.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def parse_environ(raw: bytes) -> dict[str, str]:
    """``/proc/<pid>/environ`` (NUL-separated ``NAME=value``) as a dict."""
    environment = {}
    for entry in raw.split(b"\0"):
        name, sep, value = entry.partition(b"=")
        if sep:
            environment[name.decode(errors="replace")] = value.decode(errors="replace")
    return environment


@dataclass(frozen=True)
class MarkedProcess:
    """A live process carrying the ``MHEALTH_LOCAL_INSTANCE`` marker."""

    pid: int
    parent: int
    start_ticks: int
    instance: str
    role: str
    argv: list[str]


def marked_processes() -> list[MarkedProcess]:
    """Every live process with the marker that ``up`` sets, this user's ones (others' environ
    is unreadable). Only the processes ``up`` itself started: a marked process whose parent is
    marked too is their child (a Lambda environment, a Glue job), stopped with its group."""
    found: dict[int, MarkedProcess] = {}
    marker = INSTANCE_ENV.encode() + b"="
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "environ").read_bytes()
            if marker not in raw:
                continue
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if fields[0] in ("Z", "X"):
            continue
        environment = parse_environ(raw)
        if INSTANCE_ENV not in environment:
            continue
        pid = int(entry.name)
        found[pid] = MarkedProcess(
            pid=pid,
            parent=int(fields[1]),
            start_ticks=int(fields[19]),
            instance=environment[INSTANCE_ENV],
            role=environment.get(ROLE_ENV, "unknown"),
            argv=[a.decode(errors="replace") for a in cmdline.split(b"\0") if a],
        )
    return sorted(
        (
            p
            for p in found.values()
            if found.get(p.parent) is None or found[p.parent].instance != p.instance
        ),
        key=lambda p: p.pid,
    )


def _log_for(config: LocalConfig, role: str) -> Path:
    return config.standin_log if role == KAGGLE_STANDIN else config.localstack_log


def find_started(config: LocalConfig) -> tuple[ProcessRecord, ...]:
    """The running processes ``up`` started for this local AWS (port and state dir), found by
    their marker: what ``down`` stops when the record is gone."""
    return tuple(
        ProcessRecord(
            name=p.role,
            pid=p.pid,
            start_ticks=p.start_ticks,
            argv=p.argv,
            log=str(_log_for(config, p.role)),
        )
        for p in marked_processes()
        if p.instance == config.instance_id
    )


def instances_under(directory: Path) -> list[MarkedProcess]:
    """Running processes of any local AWS whose state dir is ``directory`` or inside it."""
    root = directory.resolve()
    matches = []
    for process in marked_processes():
        _port, _sep, state = process.instance.partition("@")
        state_path = Path(state)
        if state_path == root or root in state_path.parents:
            matches.append(process)
    return matches


# --------------------------------------------------------------------------------------------
# Record
# --------------------------------------------------------------------------------------------


def read_record(config: LocalConfig) -> tuple[ProcessRecord, ...]:
    """The processes ``up`` recorded (empty when there is no record)."""
    try:
        document = json.loads(config.record_path.read_text())
    except FileNotFoundError:
        return ()
    except ValueError as error:
        raise LocalRuntimeError(f"{config.record_path} is not valid JSON: {error}") from error
    return tuple(ProcessRecord(**entry) for entry in document.get("processes", []))


def _write_record(config: LocalConfig, records: tuple[ProcessRecord, ...]) -> None:
    config.state_dir.mkdir(parents=True, exist_ok=True)
    document = {
        "endpoint_url": config.endpoint_url,
        "standin_url": config.standin_url,
        "processes": [asdict(record) for record in records],
    }
    temporary = config.record_path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=2) + "\n")
    temporary.replace(config.record_path)


# --------------------------------------------------------------------------------------------
# Probes
# --------------------------------------------------------------------------------------------


def _get_json(url: str, timeout: float = 3.0) -> Any:
    with _URL_OPENER.open(url, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def service_health(config: LocalConfig) -> dict[str, str] | None:
    """``/_localstack/health`` services and their states, or None if nothing answers there."""
    try:
        document = _get_json(f"{config.endpoint_url}/_localstack/health")
    except (OSError, ValueError):
        return None
    services = document.get("services") if isinstance(document, dict) else None
    return dict(services) if isinstance(services, dict) else {}


def _start_up_complete(config: LocalConfig) -> bool:
    """LocalStack ran its ready hooks (the saved state is loaded, restored Lambda functions
    are no longer Pending): ``/_localstack/init/ready`` says the READY stage is complete."""
    try:
        document = _get_json(f"{config.endpoint_url}/_localstack/init/ready")
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and document.get("completed") is True


def is_healthy(config: LocalConfig) -> bool:
    """True when LocalStack answers with every pipeline service (glue and athena included) ready
    and has finished starting up."""
    services = service_health(config)
    return (
        services is not None
        and all(services.get(name) in READY_STATES for name in PIPELINE_SERVICES)
        and _start_up_complete(config)
    )


def standin_healthy(config: LocalConfig) -> bool:
    try:
        with _URL_OPENER.open(f"{config.standin_url}/health", timeout=3.0) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.HTTPError):
        return False


def _port_in_use(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((host, port)) == 0


def _tail(path: str, lines: int = 30) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------------------------
# up / down / status
# --------------------------------------------------------------------------------------------


def _filesystem_root(config: LocalConfig) -> Path:
    return config.state_dir / "localstack-fs"


def localstack_environment(config: LocalConfig, base: Mapping[str, str]) -> dict[str, str]:
    """LocalStack's environment: host Lambda executor, the extension's Pythons, no internet."""
    project_python = str(config.project_python)
    environment = dict(base)
    # The snapshot the extension writes on shutdown and loads on start-up, unless
    # MHEALTH_LOCAL_PERSIST=0 (the benchmarks: each run starts empty and saves nothing).
    if base.get("MHEALTH_LOCAL_PERSIST", "1").strip() != "0":
        environment["MHEALTH_SNAPSHOT_DIR"] = str(config.snapshot_dir)
    else:
        environment.pop("MHEALTH_SNAPSHOT_DIR", None)
    # An endpoint or profile from the caller's shell means nothing to the emulator itself.
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "PYTHONPATH", "VIRTUAL_ENV"):
        environment.pop(name, None)
    environment.update(
        {
            "GATEWAY_LISTEN": config.gateway_listen,
            # Our server binds that address exactly; LocalStack's own binds 0.0.0.0 for IPv4.
            "GATEWAY_SERVER": "mhealth-twisted",
            "SERVICES": ",".join(PIPELINE_SERVICES),
            # Start every service at boot: health then proves glue and athena really load.
            "EAGER_SERVICE_LOADING": "1",
            "LAMBDA_RUNTIME_EXECUTOR": "local",
            "MHEALTH_LAMBDA_PYTHON": project_python,
            "MHEALTH_GLUE_PYTHON": str(config.glue_python),
            "MHEALTH_STATE_DIR": str(config.state_dir),
            # IAM on the local stage: enforce | log | off (README, "IAM on the local stage").
            "MHEALTH_IAM": config.iam_mode,
            # Host mode even when this machine is itself a container (LocalStack would then
            # use /var/lib/localstack and /etc/localstack, shared by every instance): its
            # files (tmp, cache, init hooks) go under the state dir.
            "OVERRIDE_IN_DOCKER": "0",
            "FILESYSTEM_ROOT": str(_filesystem_root(config)),
            # LocalStack unzips Lambda code under tempfile.gettempdir(): keep it out of /tmp,
            # which each function environment replaces with its own private tmpfs.
            "TMPDIR": str(_filesystem_root(config) / "tmp"),
            # No internet: no analytics, no TLS certificate download, no DNS server with an
            # upstream resolver. (The Lambda init binary is never fetched: see lambda_/executor.py.)
            "DISABLE_EVENTS": "1",
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "DNS_ADDRESS": "0",
        }
    )
    return environment


def _check_can_start(config: LocalConfig) -> None:
    if not config.localstack_python.exists():
        raise LocalRuntimeError(
            f"{config.venv_localstack} is missing: run make setup (it creates LocalStack's "
            "own Python 3.13 virtualenv)."
        )
    if not config.project_python.exists():
        raise LocalRuntimeError(f"{config.venv} is missing: run make setup.")
    if not config.glue_python.exists():
        raise LocalRuntimeError(
            f"{config.venv_glue} is missing: run make setup (it creates Glue 5.0's runtime, "
            "Python 3.11 with pyspark 3.5.4, for local Glue job runs)."
        )
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        # Every Glue job run would fail inside Spark with a less helpful message.
        raise LocalRuntimeError(
            "Java is not installed: local Glue jobs run PySpark, which needs Java 17 "
            "(e.g. `apt-get install openjdk-17-jre-headless`)."
        )
    if _port_in_use(config.edge_host, config.edge_port):
        what = "a LocalStack" if service_health(config) is not None else "another program"
        raise LocalRuntimeError(
            f"Port {config.edge_port} on {config.edge_host} is taken by {what} that "
            "`mhealth local up` did not start. Stop it, or set MHEALTH_LOCAL_PORT to a free port."
        )
    if _port_in_use(config.standin_host, config.standin_port):
        raise LocalRuntimeError(
            f"Port {config.standin_port} (Kaggle stand-in) is taken by another program. Stop it, "
            "or set MHEALTH_STANDIN_PORT to a free port."
        )


def _wait_until_ready(
    config: LocalConfig, records: tuple[ProcessRecord, ...], timeout_s: float, report: Report
) -> None:
    deadline = time.monotonic() + timeout_s
    pending = {record.name for record in records}
    while pending:
        for record in records:
            if record.name in pending and not _is_same_process(record):
                raise LocalRuntimeError(
                    f"{record.name} exited during start-up; last lines of {record.log}:\n"
                    f"{_tail(record.log)}"
                )
        if LOCALSTACK in pending and is_healthy(config):
            pending.discard(LOCALSTACK)
            report(f"LocalStack ready at {config.endpoint_url}")
        if KAGGLE_STANDIN in pending and standin_healthy(config):
            pending.discard(KAGGLE_STANDIN)
            report(f"Kaggle stand-in ready at {config.standin_url}")
        if not pending:
            return
        if time.monotonic() > deadline:
            services = service_health(config) or {}
            not_ready = {
                name: services.get(name, "missing")
                for name in PIPELINE_SERVICES
                if services.get(name) not in READY_STATES
            }
            raise LocalRuntimeError(
                f"Not ready after {timeout_s:.0f} s: {', '.join(sorted(pending))}"
                + (f" (services not ready: {not_ready})" if LOCALSTACK in pending else "")
                + f". Logs: {config.localstack_log}, {config.standin_log}"
            )
        time.sleep(0.5)


@contextlib.contextmanager
def _exclusive(config: LocalConfig) -> Iterator[None]:
    """Serialise up/down across processes (two test sessions may start at once)."""
    config.state_dir.mkdir(parents=True, exist_ok=True)
    with (config.state_dir / "local-aws.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def up(
    config: LocalConfig,
    *,
    report: Report = print,
    timeout_s: float = DEFAULT_START_TIMEOUT_S,
    environ: Mapping[str, str] | None = None,
    fresh: bool = False,
) -> UpResult:
    """Start LocalStack and the Kaggle stand-in unless already up; wait until both are healthy.

    LocalStack loads the snapshot its last shutdown wrote; with ``fresh`` it is removed first
    and the local AWS starts empty."""
    with _exclusive(config):
        return _up(config, report, timeout_s, os.environ if environ is None else environ, fresh)


def remove_snapshot(config: LocalConfig) -> bool:
    """Delete the saved state (and a half-written one); False when there was none."""
    existed = config.snapshot_dir.exists()
    for path in (config.snapshot_dir, *config.snapshot_dir.parent.glob("snapshot.*")):
        shutil.rmtree(path, ignore_errors=True)
    return existed


def snapshot_summary(config: LocalConfig) -> dict[str, Any] | None:
    """The saved state's manifest (when it was written, which services), None if there is none."""
    try:
        manifest = json.loads((config.snapshot_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _adopt(config: LocalConfig, report: Report) -> tuple[ProcessRecord, ...]:
    """Without a record (deleted by hand, or by an old `make clean`): what runs under the
    marker, recorded again; half of it is stopped (LocalStack saves its state) to start anew."""
    found = find_started(config)
    if {record.name for record in found} == {LOCALSTACK, KAGGLE_STANDIN}:
        report(f"Found the local AWS running without its record (pids {_pids(found)})")
        _write_record(config, found)
        return found
    if found:
        report(f"Found part of the local AWS without its record (pids {_pids(found)})")
        for record in found:
            _stop(record, report)
    return ()


def _up(
    config: LocalConfig,
    report: Report,
    timeout_s: float,
    base_env: Mapping[str, str],
    fresh: bool = False,
) -> UpResult:
    existing = read_record(config) or _adopt(config, report)
    running = tuple(record for record in existing if _is_same_process(record))
    if running and fresh:
        raise LocalRequestError(
            f"the local AWS is already up (pids {_pids(running)}): run `mhealth local down` "
            "first, then `mhealth local up --fresh`."
        )
    if running and len(running) == len(existing):
        _wait_until_ready(config, running, timeout_s, report=lambda _message: None)
        report(f"Local AWS already up at {config.endpoint_url} (pids {_pids(running)})")
        return UpResult(started=False, endpoint_url=config.endpoint_url, processes=running)
    if running:
        report(f"Some recorded processes are gone; restarting (stopping pids {_pids(running)})")
        for record in running:
            _stop(record, report)
    config.record_path.unlink(missing_ok=True)

    _check_can_start(config)
    config.state_dir.mkdir(parents=True, exist_ok=True)
    if fresh:
        if remove_snapshot(config):
            report(f"Removed the saved state ({config.snapshot_dir}); starting empty")
    elif (summary := snapshot_summary(config)) is not None:
        report(f"Restoring the saved state ({', '.join(summary.get('services', []))})")
    (_filesystem_root(config) / "tmp").mkdir(parents=True, exist_ok=True)

    records: list[ProcessRecord] = []
    try:
        records.append(
            _spawn(
                LOCALSTACK,
                [str(config.localstack_python), "-m", "localstack.runtime.main"],
                # Not the repo root: its localstack/ folder would shadow the localstack package.
                cwd=config.state_dir,
                env=localstack_environment(config, base_env),
                log=config.localstack_log,
                instance=config.instance_id,
            )
        )
        config.kaggle_datasets_dir.mkdir(parents=True, exist_ok=True)
        records.append(
            _spawn(
                KAGGLE_STANDIN,
                [
                    str(config.project_python),
                    "-m",
                    STANDIN_MODULE,
                    "--host",
                    config.standin_host,
                    "--port",
                    str(config.standin_port),
                    "--datasets-dir",
                    str(config.kaggle_datasets_dir),
                    "--username",
                    config.standin_username,
                    "--key",
                    config.standin_key,
                    "--token",
                    config.standin_token,
                ],
                cwd=config.repo_root,
                env=dict(base_env),
                log=config.standin_log,
                instance=config.instance_id,
            )
        )
        _write_record(config, tuple(records))
        report(f"Started {', '.join(f'{r.name} (pid {r.pid})' for r in records)}; waiting")
        _wait_until_ready(config, tuple(records), timeout_s, report)
    except BaseException:
        # Leave nothing half-started behind (also on Ctrl-C).
        for record in records:
            _stop(record, report)
        config.record_path.unlink(missing_ok=True)
        raise
    return UpResult(started=True, endpoint_url=config.endpoint_url, processes=tuple(records))


def down(config: LocalConfig, *, report: Report = print) -> bool:
    """Stop the processes ``up`` recorded; False when there was nothing to stop."""
    with _exclusive(config):
        return _down(config, report)


def _down(config: LocalConfig, report: Report) -> bool:
    recorded = [record for record in read_record(config) if _is_same_process(record)]
    known = {record.pid for record in recorded}
    # Also what carries this local AWS's marker: the record may be gone, or stale.
    unrecorded = [record for record in find_started(config) if record.pid not in known]
    if unrecorded:
        report(
            f"Found without a record: {', '.join(f'{r.name} (pid {r.pid})' for r in unrecorded)}"
        )
    records = recorded + unrecorded
    if not records:
        config.record_path.unlink(missing_ok=True)
        report(f"Local AWS is not up at {config.endpoint_url}")
        return False
    # The stand-in first; LocalStack then writes its snapshot and stops its Lambda environments.
    for record in sorted(records, key=lambda r: r.name == LOCALSTACK):
        _stop(record, report)
    config.record_path.unlink(missing_ok=True)
    return True


def status(config: LocalConfig) -> Status:
    """What runs where, from the record (or the marker, without one) and live probes."""
    records = read_record(config) or find_started(config)
    return Status(
        endpoint_url=config.endpoint_url,
        standin_url=config.standin_url,
        processes=tuple(
            ProcessStatus(
                name=r.name,
                pid=r.pid,
                alive=_is_same_process(r),
                log=r.log,
                listening=listening_addresses(r.pid) if _is_same_process(r) else (),
            )
            for r in records
        ),
        services=service_health(config) or {},
        standin_healthy=standin_healthy(config),
        record_path=str(config.record_path),
    )


def _pids(records: tuple[ProcessRecord, ...]) -> str:
    return ", ".join(str(record.pid) for record in records)
