"""Reads of LocalStack's own S3 store from inside its process, for the query engine.

A query over a small table used to spend most of its time in HTTP round trips to the gateway
it runs in: a listing per partition, a ``HeadObject`` and ranged ``GetObject`` calls per file,
each through the whole request chain. Inside the LocalStack process the same objects are a
dictionary lookup away. This filesystem lists and reads the buckets of the querying account
straight from the S3 provider's store and storage backend (whatever backend it uses), and
hands every other operation, and buckets of other accounts, to the filesystem it wraps (the
S3 API through the gateway), so writes keep S3's own bookkeeping (ETags, notifications,
versions) and cross-account access keeps its checks.

Outside a running LocalStack (unit tests of the engine) ``store_filesystem`` returns None and
callers keep the HTTP filesystem.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import Any, Final, cast

import pyarrow as pa
import pyarrow.fs as pafs

LOG = logging.getLogger(__name__)

#: Objects up to this size are read whole on open (one lock, one copy); larger ones are read
#: range by range as the Parquet reader asks (memory bounded by what it asks for).
_READ_WHOLE_BYTES: Final = 8 * 1024 * 1024


def _s3_provider() -> Any | None:
    """The running S3 provider, or None outside LocalStack or before S3 started."""
    try:
        from localstack.services.plugins import SERVICE_PLUGINS
    except ImportError:
        return None
    service = SERVICE_PLUGINS.get_service("s3")
    provider = getattr(service, "_provider", None) if service is not None else None
    if provider is None or not hasattr(provider, "_storage_backend"):
        return None
    return provider


class _StoredObjectReader(io.RawIOBase):
    """A seekable reader over one stored S3 object; each read holds the object's read lock
    only while it copies its range."""

    def __init__(self, backend: Any, bucket: str, s3_object: Any) -> None:
        super().__init__()
        self._backend = backend
        self._bucket = bucket
        self._object = s3_object
        self._size = int(s3_object.size or 0)
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        wanted = min(len(buffer), self._size - self._position)
        if wanted <= 0:
            return 0
        with self._backend.open(self._bucket, self._object, mode="r") as stored:
            stored.seek(self._position)
            data = stored.read(wanted)
        count = len(data)
        memoryview(buffer)[:count] = data
        self._position += count
        return count


class _StoreHandler(pafs.FileSystemHandler):  # type: ignore[misc]  # pyarrow is untyped
    """The querying account's buckets from the S3 store; anything else from ``fallback``."""

    def __init__(
        self, provider: Any, account_id: str, region: str, fallback: Callable[[], Any]
    ) -> None:
        self._provider = provider
        self._account_id = account_id
        self._region = region
        self._fallback = fallback

    # -- the store ---------------------------------------------------------------------------

    def _bucket(self, name: str) -> Any | None:
        """The bucket if the querying account owns it (None: let the S3 API answer)."""
        from localstack.services.s3.models import s3_stores

        store = s3_stores[self._account_id][self._region]
        if store.global_bucket_map.get(name) != self._account_id:
            return None
        return store.buckets.get(name)

    @staticmethod
    def _split(path: str) -> tuple[str, str]:
        bucket, _, key = path.strip("/").partition("/")
        return bucket, key

    @staticmethod
    def _current_objects(bucket: Any) -> list[Any]:
        from localstack.services.s3.models import S3DeleteMarker

        return [o for o in bucket.objects.values() if not isinstance(o, S3DeleteMarker)]

    @staticmethod
    def _file_info(bucket_name: str, s3_object: Any) -> pafs.FileInfo:
        return pafs.FileInfo(
            f"{bucket_name}/{s3_object.key}",
            pafs.FileType.File,
            size=int(s3_object.size or 0),
            mtime=s3_object.last_modified,
        )

    def _object(self, bucket: Any, key: str) -> Any | None:
        from localstack.services.s3.models import S3DeleteMarker

        found = bucket.objects.get(key)
        return None if found is None or isinstance(found, S3DeleteMarker) else found

    # -- FileSystemHandler -------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        return other is self

    def __ne__(self, other: object) -> bool:
        return other is not self

    def __hash__(self) -> int:
        return id(self)

    def get_type_name(self) -> str:
        return "localstack-s3-store"

    def normalize_path(self, path: str) -> str:
        return path

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        infos = []
        for path in paths:
            bucket_name, key = self._split(path)
            bucket = self._bucket(bucket_name)
            if bucket is None:
                infos.append(self._fallback().get_file_info(path))
            elif not key:
                infos.append(pafs.FileInfo(bucket_name, pafs.FileType.Directory))
            elif (found := self._object(bucket, key)) is not None:
                infos.append(self._file_info(bucket_name, found))
            elif any(o.key.startswith(key + "/") for o in self._current_objects(bucket)):
                infos.append(pafs.FileInfo(path.strip("/"), pafs.FileType.Directory))
            else:
                infos.append(pafs.FileInfo(path.strip("/"), pafs.FileType.NotFound))
        return infos

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        bucket_name, prefix = self._split(selector.base_dir)
        bucket = self._bucket(bucket_name)
        if bucket is None:
            return list(self._fallback().get_file_info(selector))
        start = f"{prefix}/" if prefix else ""
        files: list[pafs.FileInfo] = []
        folders: set[str] = set()
        for s3_object in self._current_objects(bucket):
            key = str(s3_object.key)
            if not key.startswith(start) or key == start:
                continue
            parts = key[len(start) :].split("/")
            # Folders implied by the keys below the base, as S3's listing shows them.
            depth = len(parts) - 1 if selector.recursive else min(len(parts) - 1, 1)
            for level in range(1, depth + 1):
                folders.add(start + "/".join(parts[:level]))
            if (selector.recursive or len(parts) == 1) and not key.endswith("/"):
                files.append(self._file_info(bucket_name, s3_object))
        if not files and not folders and not selector.allow_not_found and prefix:
            raise FileNotFoundError(f"Path does not exist '{selector.base_dir}'")
        folder_infos = [
            pafs.FileInfo(f"{bucket_name}/{name}", pafs.FileType.Directory)
            for name in sorted(folders)
        ]
        return folder_infos + sorted(files, key=lambda info: info.path)

    def _open(self, path: str) -> Any:
        bucket_name, key = self._split(path)
        bucket = self._bucket(bucket_name)
        if bucket is None:
            return self._fallback().open_input_file(path)
        found = self._object(bucket, key)
        if found is None:
            raise FileNotFoundError(f"Path does not exist '{path}'")
        backend = self._provider._storage_backend
        if int(found.size or 0) <= _READ_WHOLE_BYTES:
            with backend.open(bucket_name, found, mode="r") as stored:
                return pa.BufferReader(stored.read())
        return pa.PythonFile(_StoredObjectReader(backend, bucket_name, found), mode="r")

    def open_input_stream(self, path: str) -> Any:
        return self._open(path)

    def open_input_file(self, path: str) -> Any:
        return self._open(path)

    # -- everything else: the S3 API -----------------------------------------------------------

    def create_dir(self, path: str, recursive: bool) -> None:
        self._fallback().create_dir(path, recursive=recursive)

    def delete_dir(self, path: str) -> None:
        self._fallback().delete_dir(path)

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        self._fallback().delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self) -> None:
        self._fallback().delete_dir_contents("/", accept_root_dir=True)

    def delete_file(self, path: str) -> None:
        self._fallback().delete_file(path)

    def move(self, src: str, dest: str) -> None:
        self._fallback().move(src, dest)

    def copy_file(self, src: str, dest: str) -> None:
        self._fallback().copy_file(src, dest)

    def open_output_stream(self, path: str, metadata: Any) -> Any:
        return self._fallback().open_output_stream(path, metadata=metadata)

    def open_append_stream(self, path: str, metadata: Any) -> Any:
        return self._fallback().open_append_stream(path, metadata=metadata)


def put_object(account_id: str, region: str, bucket: str, key: str, body: bytes) -> bool:
    """Store ``body`` at ``bucket/key`` through the S3 provider's own ``PutObject`` (its
    bookkeeping: ETag, checksums, versions, notifications), called in-process without the
    request chain around it. False outside LocalStack (the caller then uses the S3 API)."""
    provider = _s3_provider()
    if provider is None:
        return False
    from localstack.aws.api import RequestContext
    from localstack.aws.api.s3 import PutObjectRequest
    from localstack.aws.spec import load_service
    from localstack.http import Request

    service = load_service("s3")
    context = RequestContext(Request("PUT", f"/{bucket}/{key}"))
    context.service = service
    context.operation = service.operation_model("PutObject")
    context.account_id = account_id
    context.region = region
    request = cast(
        PutObjectRequest,
        {"Bucket": bucket, "Key": key, "Body": io.BytesIO(body), "ContentLength": len(body)},
    )
    context.service_request = request
    provider.put_object(context, request)
    return True


def store_filesystem(
    account_id: str, region: str, fallback: Callable[[], pafs.FileSystem]
) -> pafs.FileSystem | None:
    """A filesystem reading ``account_id``'s buckets in-process, or None outside LocalStack.

    ``fallback`` makes the S3 filesystem (through the gateway) for everything else, when needed.
    """
    provider = _s3_provider()
    if provider is None:
        return None
    return pafs.PyFileSystem(_StoreHandler(provider, account_id, region, fallback))
