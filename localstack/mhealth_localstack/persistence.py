"""State that survives a restart: a snapshot written when LocalStack stops, loaded when it starts.

LocalStack's own persistence (``PERSISTENCE=1``) is not in the open release: its snapshot
manager ships with LocalStack Pro, and localstack-core 2026.3.0 only has the parts it builds on
(the ``StateVisitor`` API every provider implements, ``localstack.state.pickle``). This module
is the missing manager, for the services the pipeline uses:

- ``on_infra_shutdown`` (before the services stop): every running service is visited; each
  state container it shows (LocalStack stores, moto backends, the extension's own run history)
  is pickled to ``<MHEALTH_SNAPSHOT_DIR>/<service>/<n>.pkl`` and listed in the service's
  ``manifest.json``. S3 object bytes, which LocalStack keeps in temporary files rather than in
  its stores, are copied out beside them. The new snapshot replaces the old one atomically.
- ``on_infra_start`` (after the services are loaded, before the gateway serves a request):
  the snapshot is loaded service by service (S3 first: Lambda reads function code from it)
  and each provider's ``on_after_state_load`` runs.
- ``on_infra_ready`` (the gateway listens; before the READY stage that
  ``/_localstack/init/ready`` reports, which ``mhealth local up`` waits for): Lambda's
  ``on_after_state_load`` restarts its function versions on the host-process executor (that
  fetches their code through the gateway), and the hook waits until none is Pending, so a
  function answers as soon as ``up`` returns.

Nothing happens without ``MHEALTH_SNAPSHOT_DIR``. A snapshot from another LocalStack version is
ignored (its pickles hold LocalStack's classes). A container that cannot be saved or loaded is
logged and skipped; the others still are.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from localstack.runtime import hooks
from localstack.state import AssetDirectory, StateVisitor
from localstack.state import pickle as state_pickle

LOG = logging.getLogger(__name__)

#: Where the snapshot lives; unset, nothing is saved or loaded.
SNAPSHOT_DIR_ENV: Final = "MHEALTH_SNAPSHOT_DIR"
#: Bumped when the layout of a snapshot changes; an older snapshot is then ignored.
SNAPSHOT_FORMAT: Final = 1
MANIFEST: Final = "manifest.json"
#: Load order: S3 first (Lambda code lives in it), IAM before what assumes roles,
#: CloudFormation last (its stacks refer to everything else).
_FIRST: Final = ("s3", "iam", "sts", "secretsmanager", "logs", "sqs", "sns", "ssm")
_LAST: Final = ("glue", "athena", "lambda", "stepfunctions", "events", "cloudformation")
#: Services whose ``on_after_state_load`` needs the gateway: run from ``on_infra_ready``.
_AFTER_READY: Final = frozenset({"lambda"})
#: How long the ready hook waits for restored Lambda function versions to leave Pending.
LAMBDA_RESTORE_TIMEOUT_S: Final = 120.0
_deferred: list[Any] = []


@dataclass
class PlainState:
    """A state container of the extension's own: plain data out (``dump``), plain data in
    (``load``). Its providers show it to visitors beside the moto backends they use."""

    service_name: str
    name: str
    dump: Callable[[], Any]
    load: Callable[[Any], None]


def snapshot_dir() -> Path | None:
    raw = os.environ.get(SNAPSHOT_DIR_ENV, "").strip()
    return Path(raw) if raw else None


def _localstack_version() -> str:
    from localstack import version

    return str(version.__version__)


def _kind(container: Any) -> str:
    from localstack.services.stores import AccountRegionBundle
    from moto.core.base_backend import BackendDict

    if isinstance(container, PlainState):
        return f"plain:{container.name}"
    if isinstance(container, AccountRegionBundle):
        return f"stores:{container.service_name}:{container.store.__qualname__}"
    if isinstance(container, BackendDict):
        return f"moto:{container.service_name}"
    if isinstance(container, AssetDirectory):
        return f"assets:{container.service_name}"
    return f"other:{type(container).__qualname__}"


def service_order(names: Iterable[str]) -> list[str]:
    """``names`` in load order (see ``_FIRST``/``_LAST``); others alphabetically between."""
    names = set(names)
    first = [n for n in _FIRST if n in names]
    last = [n for n in _LAST if n in names]
    middle = sorted(names - set(first) - set(last))
    return first + middle + last


def _new_lock(reentrant: bool) -> Any:
    return threading.RLock() if reentrant else threading.Lock()


def _save_lock(pickler: Any, lock: Any) -> None:
    # dill keeps whether a lock was held; a thread that held it at shutdown does not come back,
    # so the restored lock would stay held for ever (a restored Lambda's code lock did).
    pickler.save_reduce(_new_lock, (isinstance(lock, _RLOCK),), obj=lock)


_LOCK: Final = type(threading.Lock())
_RLOCK: Final = type(threading.RLock())


def _restore_object(cls: Any, state: dict[str, Any]) -> Any:
    restored = cls.__new__(cls)
    restored.__dict__.update(state)
    return restored


def _save_sfn_execution(pickler: Any, execution: Any) -> None:
    """A Step Functions execution without its worker and logging session (they hold boto
    clients, which do not pickle); one still running has stopped with the local AWS."""
    from localstack.aws.api.stepfunctions import ExecutionStatus

    state = dict(execution.__dict__)
    state["exec_worker"] = None
    state["_cloud_watch_logging_session"] = None
    if state.get("exec_status") == ExecutionStatus.RUNNING:
        state["exec_status"] = ExecutionStatus.ABORTED
        state["stop_date"] = datetime.now(UTC)
    pickler.save_reduce(_restore_object, (type(execution), state), obj=execution)


class _SnapshotPickler(state_pickle.Pickler):
    """LocalStack's pickler (its registered reducers), restoring every lock unlocked and
    leaving out what runs (Step Functions execution workers)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from localstack.services.stepfunctions.backend.execution import Execution

        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self.dispatch[_LOCK] = _save_lock
        self.dispatch[_RLOCK] = _save_lock
        self.dispatch[Execution] = _save_sfn_execution
        self.dispatch.match_subclasses_of.add(Execution)


def _dump(value: Any, path: Path) -> None:
    with path.open("wb") as file:
        _SnapshotPickler(file).dump(value)


# --------------------------------------------------------------------------------------------
# S3 object bytes
# --------------------------------------------------------------------------------------------


def _s3_objects(stores: Any) -> Iterable[tuple[str, Any]]:
    """(bucket name, S3Object) for every stored object version (not delete markers)."""
    from localstack.services.s3.models import S3Object

    for _account, _region, store in stores.iter_stores():
        for bucket in store.buckets.values():
            for obj in bucket.objects.values(with_versions=True):
                if isinstance(obj, S3Object):
                    yield bucket.name, obj


def _save_s3_data(provider: Any, directory: Path) -> int:
    from localstack.services.s3.models import s3_stores

    backend = provider._storage_backend
    backend.flush()
    directory.mkdir(parents=True, exist_ok=True)
    index: list[dict[str, Any]] = []
    for number, (bucket, obj) in enumerate(_s3_objects(s3_stores)):
        path = directory / f"{number}.bin"
        with backend.open(bucket, obj, mode="r") as stored, path.open("wb") as out:
            shutil.copyfileobj(stored, out, 1024 * 1024)
        index.append(
            {"file": path.name, "bucket": bucket, "key": obj.key, "version": obj.version_id}
        )
    (directory / "index.json").write_text(json.dumps(index))
    return len(index)


def _load_s3_data(provider: Any, directory: Path) -> int:
    from localstack.services.s3.models import s3_stores

    index_path = directory / "index.json"
    if not index_path.exists():
        return 0
    wanted = {
        (entry["bucket"], entry["key"], entry["version"]): entry["file"]
        for entry in json.loads(index_path.read_text())
    }
    backend = provider._storage_backend
    for _account, _region, store in s3_stores.iter_stores():
        for bucket_name in store.buckets:
            backend.create_bucket(bucket_name)  # the folder a large object spills into
    count = 0
    for bucket, obj in _s3_objects(s3_stores):
        name = wanted.get((bucket, obj.key, obj.version_id))
        if name is None:
            continue
        # write() recomputes the ETag as one MD5; a multipart object's ETag is not that.
        etag = obj.etag
        with (directory / name).open("rb") as data, backend.open(bucket, obj, mode="w") as stored:
            stored.write(data)
        obj.etag = etag
        count += 1
    return count


# --------------------------------------------------------------------------------------------
# Visitors
# --------------------------------------------------------------------------------------------


class _SaveVisitor(StateVisitor):
    def __init__(self, service: str, provider: Any, directory: Path) -> None:
        self.service = service
        self.provider = provider
        self.directory = directory
        self.entries: list[dict[str, str]] = []

    def visit(self, state_container: Any) -> None:
        kind = _kind(state_container)
        name = f"{len(self.entries)}"
        entry = {"kind": kind, "file": ""}
        self.entries.append(entry)
        try:
            if kind.startswith("assets:"):
                if self.service == "s3" and self.provider is not None:
                    count = _save_s3_data(self.provider, self.directory / f"{name}-objects")
                    entry["file"] = f"{name}-objects"
                    LOG.info("snapshot: s3 object data of %d object(s)", count)
                return
            data = state_container.dump() if isinstance(state_container, PlainState) else None
            target = self.directory / f"{name}.pkl"
            _dump(state_container if data is None else data, target)
            entry["file"] = target.name
        except Exception:
            LOG.exception("snapshot: cannot save %s of %s; it will start empty", kind, self.service)
            entry["file"] = ""


def _replace_bundle(live: Any, loaded: Any) -> None:
    """Put a loaded AccountRegionBundle's stores into the live one (providers hold the latter)."""
    with live.lock:
        dict.clear(live)
        live._universal = loaded._universal
        for account, region_bundle in loaded.items():
            region_bundle.lock = live.lock
            dict.__setitem__(live, account, region_bundle)


def _replace_backends(live: Any, loaded: Any) -> None:
    """Put a loaded moto BackendDict's accounts into the live one."""
    from moto.core.base_backend import BackendDict

    for account, account_backend in loaded.items():
        live[account]  # registers the live dict with moto, as first use does
        dict.__setitem__(live, account, account_backend)
    instances: list[Any] = BackendDict._instances  # type: ignore[misc]  # moto's class list
    if live not in instances:
        instances.append(live)


class _LoadVisitor(StateVisitor):
    def __init__(
        self, service: str, provider: Any, directory: Path, entries: list[dict[str, str]]
    ) -> None:
        self.service = service
        self.provider = provider
        self.directory = directory
        self.entries = entries
        self.position = 0
        self.loaded = 0

    def visit(self, state_container: Any) -> None:
        kind = _kind(state_container)
        position = self.position
        self.position += 1
        if position >= len(self.entries) or self.entries[position]["kind"] != kind:
            LOG.warning(
                "snapshot: %s of %s does not match the snapshot; left empty", kind, self.service
            )
            return
        file = self.entries[position]["file"]
        if not file:
            return
        try:
            if kind.startswith("assets:"):
                if self.service == "s3" and self.provider is not None:
                    count = _load_s3_data(self.provider, self.directory / file)
                    LOG.info("snapshot: restored the data of %d s3 object(s)", count)
                return
            with (self.directory / file).open("rb") as data:
                loaded = state_pickle.load(data)
            if isinstance(state_container, PlainState):
                state_container.load(loaded)
            elif kind.startswith("stores:"):
                _replace_bundle(state_container, loaded)
            elif kind.startswith("moto:"):
                _replace_backends(state_container, loaded)
            else:
                return
            self.loaded += 1
        except Exception:
            LOG.exception("snapshot: cannot load %s of %s; it starts empty", kind, self.service)


# --------------------------------------------------------------------------------------------
# Save and load
# --------------------------------------------------------------------------------------------


def _services() -> Any:
    from localstack.services.plugins import SERVICE_PLUGINS

    return SERVICE_PLUGINS


def save(directory: Path) -> dict[str, int]:
    """Write the state of every running service to ``directory`` (replacing it atomically)."""
    plugins = _services()
    started = time.monotonic()
    staging = directory.with_name(directory.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    saved: dict[str, int] = {}
    for name in service_order(plugins.list_active_services()):
        service = plugins.get_service(name)
        if service is None:
            continue
        folder = staging / name
        folder.mkdir()
        visitor = _SaveVisitor(name, getattr(service, "_provider", None), folder)
        try:
            service.lifecycle_hook.on_before_state_save()
            service.accept_state_visitor(visitor)
            service.lifecycle_hook.on_after_state_save()
        except Exception:
            LOG.exception("snapshot: cannot save %s; it will start empty", name)
            continue
        (folder / MANIFEST).write_text(json.dumps({"entries": visitor.entries}, indent=1))
        saved[name] = sum(1 for e in visitor.entries if e["file"])
    (staging / MANIFEST).write_text(
        json.dumps(
            {
                "format": SNAPSHOT_FORMAT,
                "localstack": _localstack_version(),
                "services": list(saved),
                "saved_at": time.time(),
            },
            indent=1,
        )
    )
    old = directory.with_name(directory.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if directory.exists():
        directory.rename(old)
    staging.rename(directory)
    shutil.rmtree(old, ignore_errors=True)
    LOG.info("snapshot: saved %s to %s in %.1f s", saved, directory, time.monotonic() - started)
    return saved


def load(directory: Path) -> dict[str, int]:
    """Load the snapshot in ``directory`` into the running services; {} if there is none."""
    manifest_path = directory / MANIFEST
    if not manifest_path.exists():
        LOG.info("snapshot: none at %s; starting empty", directory)
        return {}
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("format") != SNAPSHOT_FORMAT or manifest.get("localstack") != (
        _localstack_version()
    ):
        LOG.warning(
            "snapshot: %s was written by another version (%s, LocalStack %s); starting empty",
            directory,
            manifest.get("format"),
            manifest.get("localstack"),
        )
        return {}
    plugins = _services()
    started = time.monotonic()
    loaded: dict[str, int] = {}
    for name in service_order(manifest.get("services", [])):
        folder = directory / name
        if not (folder / MANIFEST).exists():
            continue
        try:
            service = plugins.require(name)
        except Exception:
            LOG.exception("snapshot: service %s does not start; its state is not loaded", name)
            continue
        entries = json.loads((folder / MANIFEST).read_text())["entries"]
        visitor = _LoadVisitor(name, getattr(service, "_provider", None), folder, entries)
        try:
            service.lifecycle_hook.on_before_state_load()
            service.accept_state_visitor(visitor)
            if name in _AFTER_READY:
                _deferred.append(service)
            else:
                service.lifecycle_hook.on_after_state_load()
        except Exception:
            LOG.exception("snapshot: cannot load %s", name)
            continue
        loaded[name] = visitor.loaded
    LOG.info("snapshot: loaded %s from %s in %.1f s", loaded, directory, time.monotonic() - started)
    return loaded


def _pending_lambda_versions() -> list[str]:
    from localstack.aws.api.lambda_ import State
    from localstack.services.lambda_.invocation.models import lambda_stores

    return [
        version.id.qualified_arn()  # type: ignore[no-untyped-call]
        for _account, _region, store in lambda_stores.iter_stores()
        for function in store.functions.values()
        for version in function.versions.values()
        if version.config.state.state == State.Pending
    ]


def finish_load(timeout_s: float = LAMBDA_RESTORE_TIMEOUT_S) -> None:
    """Run the deferred ``on_after_state_load`` hooks; wait until no Lambda version is Pending."""
    while _deferred:
        service = _deferred.pop(0)
        try:
            service.lifecycle_hook.on_after_state_load()
        except Exception:
            LOG.exception("snapshot: cannot restart %s", service.name())
    deadline = time.monotonic() + timeout_s
    while pending := _pending_lambda_versions():
        if time.monotonic() > deadline:
            LOG.warning(
                "snapshot: Lambda versions still Pending after %.0f s: %s", timeout_s, pending
            )
            return
        time.sleep(0.2)


# After eager_load_services (priority 0): the providers exist when the snapshot is loaded.
@hooks.on_infra_start(priority=-100)  # type: ignore[untyped-decorator]  # LocalStack's is untyped
def mhealth_load_snapshot() -> None:
    """LocalStack start-up hook: load the snapshot the last shutdown wrote."""
    directory = snapshot_dir()
    if directory is not None:
        load(directory)


# Before _run_init_scripts_on_ready (priority 0) marks the READY stage complete.
@hooks.on_infra_ready(priority=100)  # type: ignore[untyped-decorator]
def mhealth_finish_snapshot_load() -> None:
    """LocalStack ready hook: restart what needed the gateway (Lambda's function versions)."""
    if snapshot_dir() is not None:
        finish_load()


# Before shutdown_services (priority -10) stops the providers and their workers.
@hooks.on_infra_shutdown(priority=100)  # type: ignore[untyped-decorator]
def mhealth_save_snapshot() -> None:
    """LocalStack shutdown hook: write the snapshot the next start loads."""
    directory = snapshot_dir()
    if directory is not None:
        save(directory)
