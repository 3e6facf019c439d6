"""Reads of a query counted: the data files it opened and their bytes (DataScannedInBytes).

The filesystem handed to pyarrow's datasets wraps the S3 one and records every file opened.
DuckDB pushes partition filters into the dataset, so a query on one partition opens only that
partition's files, as Athena scans only them.
"""

from __future__ import annotations

import threading
from typing import Any

import pyarrow.fs as pafs


class _CountingHandler(pafs.FileSystemHandler):  # type: ignore[misc]  # pyarrow is untyped
    """Delegates to a filesystem and records the size of each file opened for reading."""

    def __init__(self, base: pafs.FileSystem) -> None:
        self.base = base
        self.opened: dict[str, int] = {}
        self._lock = threading.Lock()

    def _record(self, path: str, file: Any) -> Any:
        try:
            size = int(file.size())
        except (OSError, AttributeError):
            size = 0
        with self._lock:
            self.opened[path] = size
        return file

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _CountingHandler) and other.base.equals(self.base)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return id(self)

    def get_type_name(self) -> str:
        return f"counting+{self.base.type_name}"

    def normalize_path(self, path: str) -> str:
        return str(self.base.normalize_path(path))

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return list(self.base.get_file_info(paths))

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        return list(self.base.get_file_info(selector))

    def create_dir(self, path: str, recursive: bool) -> None:
        self.base.create_dir(path, recursive=recursive)

    def delete_dir(self, path: str) -> None:
        self.base.delete_dir(path)

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        self.base.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self) -> None:
        self.base.delete_dir_contents("/", accept_root_dir=True)

    def delete_file(self, path: str) -> None:
        self.base.delete_file(path)

    def move(self, src: str, dest: str) -> None:
        self.base.move(src, dest)

    def copy_file(self, src: str, dest: str) -> None:
        self.base.copy_file(src, dest)

    def open_input_stream(self, path: str) -> Any:
        return self._record(path, self.base.open_input_file(path))

    def open_input_file(self, path: str) -> Any:
        return self._record(path, self.base.open_input_file(path))

    def open_output_stream(self, path: str, metadata: Any) -> Any:
        return self.base.open_output_stream(path, metadata=metadata)

    def open_append_stream(self, path: str, metadata: Any) -> Any:
        return self.base.open_append_stream(path, metadata=metadata)


class CountingFileSystem(pafs.PyFileSystem):  # type: ignore[misc]
    """A read-side filesystem whose ``bytes_opened`` is the size of the distinct files read."""

    def __init__(self, base: pafs.FileSystem) -> None:
        self._counter = _CountingHandler(base)
        super().__init__(self._counter)

    @property
    def bytes_opened(self) -> int:
        return sum(self._counter.opened.values())

    @property
    def files_opened(self) -> list[str]:
        return sorted(self._counter.opened)
