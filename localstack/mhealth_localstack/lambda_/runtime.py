"""Lambda runtime interface for one host-process execution environment (plays LocalStack's Go init).

Runs with the Lambda's Python (3.12) and imports nothing but the standard library. Two roles:

``supervise`` (started by ``HostProcessRuntimeExecutor``) is the init: it serves ``POST /invoke``
for LocalStack, starts a *worker* process, reports ready at
``<LOCALSTACK_RUNTIME_ENDPOINT>/status/<id>/ready`` and answers each invocation at
``…/invocations/<request>/logs`` then ``…/response`` or ``…/error``. It enforces the function
timeout by killing the worker (AWS's "Task timed out after X seconds"), after which a fresh
worker re-runs the init phase, as AWS resets a sandbox.

The sandbox (where the machine allows it, see ``sandbox.py``): ``supervise`` first enters
a private mount namespace with a tmpfs of the function's ephemeral storage size on ``/tmp``, so a
literal ``/tmp/...`` path is the environment's own; the worker joins the environment's memory
cgroup, and a watcher kills it once it uses more than the function's memory size, as AWS does.

``worker`` imports the handler the way AWS's Python runtime does (task root first on
``sys.path``, then the layers' ``python`` dirs) and runs invocations sent over a pipe. Its
stdout and stderr are one pipe the supervisor collects into the invocation's log (START,
handler output, END, REPORT), which LocalStack stores in CloudWatch Logs.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import datetime as dt
import http.server
import importlib
import json
import logging
import math
import os
import queue
import resource
import signal
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

#: Environment variables meant for this init only; the function code does not see them.
INTERNAL_VARIABLES = ("LOCALSTACK_RUNTIME_ENDPOINT", "LOCALSTACK_RUNTIME_ID")
#: How long the init phase may take before the environment reports ready anyway (AWS: 10 s).
INIT_PHASE_SECONDS = 10.0
#: How long to wait for the worker's last output after it answered an invocation.
LOG_DRAIN_SECONDS = 2.0
#: How often the watchdogs check that the parent process is still there.
PARENT_POLL_SECONDS = 1.0
#: How often the memory watcher samples the environment's cgroup.
MEMORY_POLL_SECONDS = 0.01
_MIB = 1024 * 1024

# Proxies would break the loopback calls to LocalStack: never use them here.
_URL_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _utc_stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _watch_parent(parent_pid: int, on_orphaned: Callable[[], None]) -> None:
    """Call ``on_orphaned`` once the parent is gone, so no environment outlives LocalStack."""

    def loop() -> None:
        while True:
            time.sleep(PARENT_POLL_SECONDS)
            if os.getppid() != parent_pid:
                on_orphaned()
                return

    threading.Thread(target=loop, name="parent-watchdog", daemon=True).start()


# --------------------------------------------------------------------------------------------
# Sandbox: the environment's own /tmp and its memory.
# --------------------------------------------------------------------------------------------

_CLONE_NEWNS = 0x00020000
_MS_NOSUID = 0x2
_MS_NODEV = 0x4
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_PRIVATE = 1 << 18


def enter_private_tmp(size_mb: int, keep: Sequence[str] = ()) -> None:
    """Move this process (and the children it starts) into its own mount namespace, with a
    tmpfs of ``size_mb`` MiB on ``/tmp``: invisible to the host and to other environments, and
    full (``No space left on device``) at the function's ephemeral storage size.

    ``keep``: folders under ``/tmp`` the environment still needs (its code, this runtime, the
    interpreter's virtualenv when the project itself lives under ``/tmp``); each is bound back
    at its own path over the new tmpfs, and nothing else of the host's ``/tmp`` is visible.

    ``unshare(CLONE_NEWNS)`` needs a single-threaded process: call it before any thread starts.
    """
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

    def check(result: int, what: str) -> None:
        if result != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"{what}: {os.strerror(errno)}")

    check(libc.unshare(_CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    # Mounts made here must not propagate back into the host's namespace.
    check(libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None), "mount --make-rprivate /")
    # Handles on the kept folders, taken in this namespace before the tmpfs hides them.
    kept: list[tuple[str, int]] = []
    for path in sorted({os.path.realpath(p) for p in keep}, key=len):
        if path.startswith("/tmp/") and not any(path.startswith(k + "/") for k, _ in kept):
            kept.append((path, os.open(path, os.O_PATH | os.O_DIRECTORY)))
    options = f"size={size_mb}m,mode=1777".encode()
    check(libc.mount(b"tmpfs", b"/tmp", b"tmpfs", _MS_NOSUID | _MS_NODEV, options), "mount /tmp")
    for path, handle in kept:
        os.makedirs(path, mode=0o755, exist_ok=True)
        source = f"/proc/self/fd/{handle}".encode()
        check(libc.mount(source, path.encode(), None, _MS_BIND | _MS_REC, None), f"bind {path}")
        os.close(handle)


def probe_private_tmp_main() -> int:
    """Exit 0 when this machine lets ``enter_private_tmp`` work (run in a throwaway process)."""
    try:
        enter_private_tmp(1)
        with open("/tmp/probe", "wb") as probe:
            probe.write(b"x")
        size = os.statvfs("/tmp")
    except OSError as error:
        print(f"private /tmp unavailable: {error}", file=sys.stderr)
        return 1
    if size.f_blocks * size.f_frsize > 2 * _MIB:
        print("private /tmp unavailable: the tmpfs size limit did not apply", file=sys.stderr)
        return 1
    return 0


class MemoryCgroup:
    """The environment's memory cgroup (v1 or v2), created by the executor."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.version = 2 if os.path.exists(os.path.join(path, "memory.current")) else 1

    def join(self, pid: int) -> None:
        with open(os.path.join(self.path, "cgroup.procs"), "w") as procs:
            procs.write(str(pid))

    def _read(self, name: str) -> str:
        with open(os.path.join(self.path, name)) as source:
            return source.read()

    def used_bytes(self) -> int:
        """Memory the function holds: the cgroup's charge less what is not the function's own
        memory on AWS: tmpfs pages (``/tmp`` is storage there) and reclaimable file cache."""
        stat = dict(line.split() for line in self._read("memory.stat").splitlines())
        if self.version == 2:
            charged = int(self._read("memory.current"))
            return charged - int(stat.get("shmem", 0)) - int(stat.get("inactive_file", 0))
        charged = int(self._read("memory.usage_in_bytes"))
        return charged - int(stat.get("total_shmem", 0)) - int(stat.get("total_inactive_file", 0))


# --------------------------------------------------------------------------------------------
# Worker: runs the function code.
# --------------------------------------------------------------------------------------------


class FaultError(Exception):
    """An error of the runtime itself (bad handler name, import failure), with AWS's type."""

    def __init__(self, error_type: str, message: str, stack_trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace or []


def _error_document(
    message: str, error_type: str, stack_trace: list[str], request_id: str
) -> dict[str, Any]:
    # Same keys and order as AWS's Python runtime (awslambdaric make_error).
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack_trace,
    }


def _exception_document(error: BaseException, request_id: str) -> dict[str, Any]:
    frames = traceback.extract_tb(error.__traceback__)
    # Hide this runtime's own frames, as AWS hides its bootstrap's.
    user_frames = [frame for frame in frames if frame.filename != __file__] or list(frames)
    return _error_document(
        str(error), type(error).__name__, traceback.format_list(user_frames), request_id
    )


def _log_error(document: dict[str, Any]) -> None:
    # AWS writes the error into the function's log in this shape.
    lines = [f"[ERROR] {document['errorType']}: {document['errorMessage']}"]
    if document["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        lines.extend(entry.rstrip("\n") for entry in document["stackTrace"])
    print("\n".join(lines), file=sys.stderr, flush=True)


def load_handler(handler: str) -> Callable[[Any, Any], Any]:
    """Import ``module.function`` as AWS's Python runtime does, raising its error types."""
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as error:
        raise FaultError(
            "Runtime.MalformedHandlerName", f"Bad handler '{handler}': {error}"
        ) from error
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise FaultError(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {module_name} as a handler module",
        )
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as error:
        raise FaultError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}"
        ) from error
    except SyntaxError as error:
        trace = [f'  File "{error.filename}" Line {error.lineno}\n    {error.text}']
        raise FaultError(
            "Runtime.UserCodeSyntaxError",
            f"Syntax error in module '{module_name}': {error}",
            trace,
        ) from error
    function = getattr(module, function_name, None)
    if function is None:
        raise FaultError(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        )
    if not callable(function):
        raise FaultError(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' on module '{module_name}' is not callable",
        )
    return function  # type: ignore[no-any-return]


@dataclass
class LambdaContext:
    """The ``context`` argument, with the attributes and method AWS's Python runtime provides."""

    aws_request_id: str
    invoked_function_arn: str
    deadline_ms: int
    function_name: str = field(
        default_factory=lambda: os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
    )
    function_version: str = field(
        default_factory=lambda: os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
    )
    memory_limit_in_mb: str = field(
        default_factory=lambda: os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
    )
    log_group_name: str = field(
        default_factory=lambda: os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
    )
    log_stream_name: str = field(
        default_factory=lambda: os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
    )
    identity: Any = None
    client_context: Any = None
    tenant_id: str | None = None

    def get_remaining_time_in_millis(self) -> int:
        return max(self.deadline_ms - int(time.time() * 1000), 0)


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def _install_lambda_logging() -> _RequestIdFilter:
    # AWS's runtime puts one handler on the root logger with this format (level left at WARNING).
    request_filter = _RequestIdFilter()
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(request_filter)
    if os.environ.get("AWS_LAMBDA_LOG_FORMAT") == "JSON":
        json_format = '{"level": "%(levelname)s", "message": "%(message)s"}'
        handler.setFormatter(logging.Formatter(json_format))
    else:
        formatter = logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
    logging.getLogger().addHandler(handler)
    return request_filter


def _send(channel: IO[str], message: dict[str, Any]) -> None:
    channel.write(json.dumps(message) + "\n")
    channel.flush()


def _end_of_output(request_id: str) -> None:
    # Written after the handler's output on the same pipe: tells the supervisor the log is complete.
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(1, f"\n{log_marker(request_id)}\n".encode())


def log_marker(request_id: str) -> str:
    return f"\x1e\x1emhealth-lambda-end {request_id}\x1e\x1e"


def run_invocation(
    function: Callable[[Any, Any], Any], message: dict[str, Any], request_filter: _RequestIdFilter
) -> dict[str, Any]:
    """Run one invocation: ``{"ok": True, "payload": json}`` or ``{"ok": False, "error": doc}``."""
    request_id: str = message["request_id"]
    request_filter.request_id = request_id
    os.environ["_X_AMZN_TRACE_ID"] = message.get("trace_id") or ""
    context = LambdaContext(
        aws_request_id=request_id,
        invoked_function_arn=message["invoked_function_arn"],
        deadline_ms=message["deadline_ms"],
    )
    try:
        event = json.loads(message["payload"]) if message["payload"] else {}
    except ValueError as error:
        document = _error_document(
            f"Unable to unmarshal input: {error}", "Runtime.UnmarshalError", [], request_id
        )
        _log_error(document)
        return {"ok": False, "error": document}
    try:
        result = function(event, context)
    except Exception as error:
        document = _exception_document(error, request_id)
        _log_error(document)
        return {"ok": False, "error": document}
    try:
        payload = json.dumps(result)
    except (TypeError, ValueError) as error:
        document = _error_document(
            f"Unable to marshal response: {error}", "Runtime.MarshalError", [], request_id
        )
        _log_error(document)
        return {"ok": False, "error": document}
    return {"ok": True, "payload": payload}


def worker_main(
    control_in: int,
    control_out: int,
    python_paths: list[str],
    parent_pid: int,
    memory_cgroup: str | None,
) -> int:
    """Import the handler (the init phase), then serve invocations until the control pipe closes."""
    if memory_cgroup:
        # First, before any function code runs: everything from here on counts.
        MemoryCgroup(memory_cgroup).join(os.getpid())
    # Task root first, then layers: the function's own packages shadow everything else.
    sys.path[0:0] = python_paths
    commands = os.fdopen(control_in, "r", encoding="utf-8")
    answers = os.fdopen(control_out, "w", encoding="utf-8")
    _watch_parent(parent_pid, lambda: os._exit(1))
    request_filter = _install_lambda_logging()
    try:
        function = load_handler(os.environ.get("_HANDLER", ""))
    except FaultError as fault:
        document = _error_document(fault.message, fault.error_type, fault.stack_trace, "")
        _log_error(document)
        _end_of_output("init")
        _send(answers, {"type": "init_error", "error": document})
        return 1
    except Exception as error:  # module-level code raised: AWS reports it as an init error
        document = _exception_document(error, "")
        _log_error(document)
        _end_of_output("init")
        _send(answers, {"type": "init_error", "error": document})
        return 1
    _end_of_output("init")
    _send(answers, {"type": "init_done"})
    for line in commands:
        message = json.loads(line)
        answer = run_invocation(function, message, request_filter)
        answer["max_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        _end_of_output(message["request_id"])
        _send(answers, {"type": "result", **answer})
    return 0


# --------------------------------------------------------------------------------------------
# Supervisor: the init LocalStack talks to.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SupervisorSettings:
    """What the supervisor needs, read once from its environment and arguments."""

    runtime_endpoint: str
    runtime_id: str
    timeout_seconds: float
    function_version: str
    memory_size_mb: str
    python_paths: tuple[str, ...]
    parent_pid: int
    host: str
    memory_cgroup: str | None
    private_tmp_mb: int
    keep_paths: tuple[str, ...]

    @classmethod
    def from_environment(cls, args: argparse.Namespace) -> SupervisorSettings:
        missing = [
            name
            for name in ("LOCALSTACK_RUNTIME_ENDPOINT", "LOCALSTACK_RUNTIME_ID", "_HANDLER")
            if not os.environ.get(name)
        ]
        if missing:
            raise SystemExit(f"lambda runtime: missing environment variables: {', '.join(missing)}")
        return cls(
            runtime_endpoint=os.environ["LOCALSTACK_RUNTIME_ENDPOINT"].rstrip("/"),
            runtime_id=os.environ["LOCALSTACK_RUNTIME_ID"],
            timeout_seconds=float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT") or 3),
            function_version=os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            memory_size_mb=os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            python_paths=tuple(args.python_path),
            parent_pid=args.parent_pid,
            host=args.host,
            memory_cgroup=args.memory_cgroup,
            private_tmp_mb=args.private_tmp_mb,
            keep_paths=tuple(args.keep_path),
        )


class Worker:
    """One worker process: its control pipes, and a thread collecting its output lines."""

    def __init__(self, settings: SupervisorSettings, echo: IO[str]) -> None:
        commands_read, commands_write = os.pipe()
        answers_read, answers_write = os.pipe()
        worker_env = {k: v for k, v in os.environ.items() if k not in INTERNAL_VARIABLES}
        worker_env["PYTHONUNBUFFERED"] = "1"
        command = [
            sys.executable,
            "-P",  # the script's own folder must not shadow the function's modules
            os.path.abspath(__file__),
            "worker",
            "--control-in",
            str(commands_read),
            "--control-out",
            str(answers_write),
            "--parent-pid",
            str(os.getpid()),
        ]
        for path in settings.python_paths:
            command += ["--python-path", path]
        if settings.memory_cgroup:
            command += ["--memory-cgroup", settings.memory_cgroup]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(commands_read, answers_write),
            env=worker_env,
            cwd=os.environ.get("LAMBDA_TASK_ROOT") or None,
            # Own process group: a timeout kills the handler's children too.
            process_group=0,
        )
        os.close(commands_read)
        os.close(answers_write)
        self._commands = os.fdopen(commands_write, "w", encoding="utf-8")
        self._answers: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._lines: list[str] = []
        self._lines_lock = threading.Lock()
        self._markers: dict[str, threading.Event] = {}
        self._echo = echo
        answers_file = os.fdopen(answers_read, "r", encoding="utf-8")
        self._output_thread = threading.Thread(target=self._collect_output, daemon=True)
        self._output_thread.start()
        threading.Thread(target=self._read_answers, args=(answers_file,), daemon=True).start()

    def _marker_event(self, request_id: str) -> threading.Event:
        with self._lines_lock:
            return self._markers.setdefault(request_id, threading.Event())

    def _collect_output(self) -> None:
        assert self.process.stdout is not None
        for raw in iter(self.process.stdout.readline, b""):
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            ended: str | None = None
            if "\x1e\x1emhealth-lambda-end " in text:
                text, _, rest = text.partition("\x1e\x1emhealth-lambda-end ")
                ended = rest.split("\x1e", 1)[0]
            with self._lines_lock:
                if text:
                    self._lines.append(text)
                    self._echo.write(text + "\n")
                    self._echo.flush()
                if ended is not None:
                    self._markers.setdefault(ended, threading.Event()).set()

    def _read_answers(self, answers: IO[str]) -> None:
        for line in answers:
            self._answers.put(json.loads(line))
        self._answers.put(None)  # the worker is gone

    def take_lines(self) -> list[str]:
        with self._lines_lock:
            lines, self._lines = self._lines, []
        return lines

    def wait_for_output(self, request_id: str, seconds: float) -> None:
        self._marker_event(request_id).wait(seconds)

    def next_answer(self, seconds: float) -> dict[str, Any] | None:
        """The worker's next message; ``None`` if it exited. Raises ``queue.Empty`` on timeout."""
        return self._answers.get(timeout=max(seconds, 0.0))

    def send(self, message: dict[str, Any]) -> None:
        self._commands.write(json.dumps(message) + "\n")
        self._commands.flush()

    def exit_description(self) -> str:
        code = self.process.wait()
        if code < 0:
            # Go's wording, as AWS's init prints it: "signal: killed", "signal: segmentation fault".
            description = signal.strsignal(-code) or signal.Signals(-code).name
            return f"signal: {description.lower()}"
        return f"exit status {code}"

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        # The output pipe closes once every process of the group is gone.
        self._output_thread.join(LOG_DRAIN_SECONDS)


@dataclass
class _WorkerOutcome:
    lines: list[str] = field(default_factory=list)
    payload: bytes = b""
    error: dict[str, Any] | None = None
    status: str = ""
    max_rss_mb: int = 0


class Supervisor:
    """Serves LocalStack's invocations one at a time with a warm, replaceable worker."""

    def __init__(self, settings: SupervisorSettings) -> None:
        self.settings = settings
        self._worker: Worker | None = None
        self._initialised = False
        self._init_error: dict[str, Any] | None = None
        self._init_lines: list[str] = []
        self._pending_init_error = False
        self._busy = threading.Lock()
        self._memory = MemoryCgroup(settings.memory_cgroup) if settings.memory_cgroup else None
        self._memory_limit_bytes = int(settings.memory_size_mb) * _MIB
        self._peak_bytes = 0
        self._peak_lock = threading.Lock()
        if self._memory is not None:
            threading.Thread(target=self._watch_memory, name="memory-watch", daemon=True).start()

    # -- memory -----------------------------------------------------------------------------

    def _watch_memory(self) -> None:
        """Kill the worker once the function uses more than its memory size, as AWS does."""
        assert self._memory is not None
        while True:
            time.sleep(MEMORY_POLL_SECONDS)
            try:
                used = self._memory.used_bytes()
            except (OSError, ValueError):
                continue
            with self._peak_lock:
                self._peak_bytes = max(self._peak_bytes, used)
            worker = self._worker
            if used > self._memory_limit_bytes and worker is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(worker.process.pid, signal.SIGKILL)

    def _reset_peak(self) -> None:
        with self._peak_lock:
            self._peak_bytes = 0

    def _max_memory_used_mb(self, max_rss_kb: int) -> int:
        """The REPORT line's Max Memory Used: the invocation's peak, at most the memory size."""
        with self._peak_lock:
            peak = max(self._peak_bytes, max_rss_kb * 1024)
        return min(math.ceil(peak / _MIB), int(self.settings.memory_size_mb))

    # -- LocalStack callbacks ---------------------------------------------------------------

    def _post(self, path: str, body: bytes) -> None:
        request = urllib.request.Request(
            f"{self.settings.runtime_endpoint}{path}",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with _URL_OPENER.open(request, timeout=30) as response:
            response.read()

    def report_ready(self, port: int) -> None:
        # Our executor endpoint reads the port from this body (no free-port race).
        self._post(
            f"/status/{self.settings.runtime_id}/ready",
            json.dumps({"port": port, "pid": os.getpid()}).encode(),
        )

    # -- worker lifecycle -------------------------------------------------------------------

    def _start_worker(self) -> Worker:
        self._worker = Worker(self.settings, sys.stdout)
        self._initialised = False
        return self._worker

    def _await_init(self, worker: Worker, seconds: float) -> bool | None:
        """True once initialised; False on an init error (kept with its log); None if running."""
        try:
            message = worker.next_answer(seconds)
        except queue.Empty:
            return None
        if message is not None and message.get("type") == "init_done":
            worker.wait_for_output("init", LOG_DRAIN_SECONDS)
            self._initialised = True
            return True
        if message is None:
            message = {
                "type": "init_error",
                "error": _error_document(
                    f"Runtime exited with error: {worker.exit_description()}",
                    "Runtime.ExitError",
                    [],
                    "",
                ),
            }
        worker.wait_for_output("init", LOG_DRAIN_SECONDS)
        worker.kill()
        self._worker = None
        self._init_error = message["error"]
        self._init_lines = worker.take_lines()
        return False

    def start(self) -> None:
        """Run the init phase before reporting ready, as a cold start does (at most 10 s)."""
        if self._await_init(self._start_worker(), INIT_PHASE_SECONDS) is False:
            # The first invocation reports this failure with its log; later ones re-run the init.
            self._pending_init_error = True

    def _restart_worker(self) -> None:
        with self._busy:
            if self._worker is None:
                self._await_init(self._start_worker(), INIT_PHASE_SECONDS)

    def shutdown(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.kill()

    # -- invocations ------------------------------------------------------------------------

    def invoke(self, invoke: dict[str, Any]) -> None:
        with self._busy:
            self._invoke(invoke)

    def _ready_worker(self, deadline: float) -> tuple[Worker | None, list[str], str]:
        """The initialised worker, the log lines before START, and "timeout"/"error" if none."""
        if self._pending_init_error:
            self._pending_init_error = False
            return None, list(self._init_lines), "error"
        worker = self._worker or self._start_worker()
        if not self._initialised:
            # An init after a reset (or a slow cold start) counts against the invocation.
            initialised = self._await_init(worker, deadline - time.monotonic())
            if initialised is None:
                return worker, worker.take_lines(), "timeout"
            if initialised is False:
                return None, list(self._init_lines), "error"
        return worker, worker.take_lines(), ""

    def _run_on_worker(
        self, worker: Worker, invoke: dict[str, Any], deadline: float
    ) -> _WorkerOutcome:
        request_id: str = invoke["invoke-id"]
        outcome = _WorkerOutcome()
        self._reset_peak()
        worker.send(
            {
                "request_id": request_id,
                "invoked_function_arn": invoke.get("invoked-function-arn", ""),
                "payload": invoke.get("payload", ""),
                "trace_id": invoke.get("trace-id", ""),
                "deadline_ms": int((time.time() + deadline - time.monotonic()) * 1000),
            }
        )
        try:
            answer = worker.next_answer(deadline - time.monotonic())
        except queue.Empty:
            outcome.status = "timeout"
            return outcome
        if answer is None:  # the handler ended the process (sys.exit, crash, OOM kill)
            description = worker.exit_description()
            self.shutdown()
            outcome.lines = worker.take_lines()
            outcome.status = "error"
            outcome.max_rss_mb = self._max_memory_used_mb(0)
            outcome.error = _error_document(
                f"RequestId: {request_id} Error: Runtime exited with error: {description}",
                "Runtime.ExitError",
                [],
                "",
            )
            return outcome
        worker.wait_for_output(request_id, LOG_DRAIN_SECONDS)
        outcome.lines = worker.take_lines()
        outcome.max_rss_mb = self._max_memory_used_mb(int(answer.get("max_rss_kb", 0)))
        if answer["ok"]:
            outcome.payload = answer["payload"].encode()
        else:
            outcome.error = answer["error"]
        return outcome

    def _invoke(self, invoke: dict[str, Any]) -> None:
        request_id: str = invoke["invoke-id"]
        timeout = self.settings.timeout_seconds
        started = time.monotonic()
        deadline = started + timeout
        worker, lines, status = self._ready_worker(deadline)
        error = self._init_error if status == "error" else None
        payload = b""
        max_rss_mb = 0
        start_line = f"START RequestId: {request_id} Version: {self.settings.function_version}"
        print(start_line, flush=True)
        lines.append(start_line)

        if worker is not None and not status:
            ran = self._run_on_worker(worker, invoke, deadline)
            lines += ran.lines
            payload, error, status, max_rss_mb = ran.payload, ran.error, ran.status, ran.max_rss_mb
        if status == "timeout":
            self.shutdown()
            if worker is not None:
                lines += worker.take_lines()
            message = f"Task timed out after {timeout:.2f} seconds"
            lines.append(f"{_utc_stamp()} {request_id} {message}")
            error = {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {request_id} Error: {message}",
            }

        duration_ms = (time.monotonic() - started) * 1000
        closing = [
            f"END RequestId: {request_id}",
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {math.ceil(duration_ms)} ms\t"
            f"Memory Size: {self.settings.memory_size_mb} MB\tMax Memory Used: {max_rss_mb} MB"
            + (f"\tStatus: {status}" if status else ""),
        ]
        print("\n".join(closing), flush=True)
        lines += closing

        base = f"/invocations/{request_id}"
        self._post(f"{base}/logs", json.dumps({"logs": "\n".join(lines) + "\n"}).encode())
        if error is None:
            self._post(f"{base}/response", payload)
        else:
            self._post(f"{base}/error", json.dumps(error).encode())
        if self._worker is None:
            # Reset as AWS does: the next invocation meets a freshly initialised runtime.
            threading.Thread(target=self._restart_worker, daemon=True).start()


def _make_handler(supervisor: Supervisor) -> type[http.server.BaseHTTPRequestHandler]:
    class InvokeHandler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/invoke":
                self.send_error(404)
                return
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            invoke = json.loads(body or b"{}")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            # LocalStack waits for the callbacks, not for this answer.
            threading.Thread(target=self._run, args=(invoke,), daemon=True).start()

        def _run(self, invoke: dict[str, Any]) -> None:
            try:
                supervisor.invoke(invoke)
            except Exception:
                traceback.print_exc()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # access logs would only clutter the environment's log

    return InvokeHandler


def supervise_main(args: argparse.Namespace) -> int:
    settings = SupervisorSettings.from_environment(args)
    if settings.private_tmp_mb:
        # Before any thread starts.
        enter_private_tmp(settings.private_tmp_mb, keep=settings.keep_paths)
    supervisor = Supervisor(settings)
    server = http.server.ThreadingHTTPServer((settings.host, 0), _make_handler(supervisor))
    server.daemon_threads = True

    def stop(*_: object) -> None:
        supervisor.shutdown()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _watch_parent(settings.parent_pid, stop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    supervisor.start()
    supervisor.report_ready(server.server_address[1])
    threading.Event().wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    roles = parser.add_subparsers(dest="role", required=True)
    supervise = roles.add_parser("supervise", help="the init LocalStack talks to")
    supervise.add_argument("--host", default="127.0.0.1")
    supervise.add_argument("--parent-pid", type=int, required=True)
    supervise.add_argument("--python-path", action="append", default=[])
    supervise.add_argument("--memory-cgroup", help="the environment's memory cgroup")
    supervise.add_argument(
        "--private-tmp-mb", type=int, default=0, help="mount a private /tmp of this size"
    )
    supervise.add_argument(
        "--keep-path", action="append", default=[], help="a folder under /tmp to keep visible"
    )
    worker = roles.add_parser("worker", help="runs the function code (started by supervise)")
    worker.add_argument("--control-in", type=int, required=True)
    worker.add_argument("--control-out", type=int, required=True)
    worker.add_argument("--parent-pid", type=int, required=True)
    worker.add_argument("--python-path", action="append", default=[])
    worker.add_argument("--memory-cgroup")
    roles.add_parser("probe-private-tmp", help="exit 0 if a private /tmp works here")
    args = parser.parse_args(argv)
    if args.role == "worker":
        return worker_main(
            args.control_in, args.control_out, args.python_path, args.parent_pid, args.memory_cgroup
        )
    if args.role == "probe-private-tmp":
        return probe_private_tmp_main()
    return supervise_main(args)


if __name__ == "__main__":
    sys.exit(main())
