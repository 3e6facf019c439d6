"""Nothing half-done: a command writes its output into a staging folder and moves it into place
only when everything succeeded.

The rule for every command that writes files (``sample``, ``convert``): inputs are checked
before anything is written; the output is written into a hidden folder beside the nearest
existing ancestor of ``--out`` (same file system, so the moves are renames); on success each
file is moved into ``--out`` (created then, replacing files of the same names, leaving other
files alone); on any failure, Ctrl-C included, the staging folder is removed and ``--out`` is
not created or touched.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STAGING_PREFIX = ".mhealth-staging-"


def existing_ancestor(path: Path) -> Path:
    """``path`` itself if it exists, else its nearest ancestor that does."""
    path = path.absolute()
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor)


@contextmanager
def staged_output(out: Path) -> Iterator[Path]:
    """Yields an empty staging folder; when the block ends without an exception its files
    move into ``out``; when it raises, the staging folder is removed and ``out`` is untouched."""
    anchor = existing_ancestor(out)
    if not anchor.is_dir():
        raise NotADirectoryError(f"{anchor} is not a directory")
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=anchor))
    try:
        yield staging
        _move_into(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_into(staging: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for folder, _dirs, files in os.walk(staging):
        target_folder = out / Path(folder).relative_to(staging)
        target_folder.mkdir(exist_ok=True)
        for name in sorted(files):
            os.replace(Path(folder) / name, target_folder / name)


def check_output_folder(out: Path) -> None:
    """Raises ``UsageError`` unless ``out`` is a folder, or can be created, and is writable."""
    from mhealth.cli.errors import UsageError

    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder", "choose a folder for --out")
    anchor = existing_ancestor(out)
    if not anchor.is_dir():
        raise UsageError(f"--out {out}: {anchor} is a file, not a folder", "choose another --out")
    if not os.access(anchor, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out}: cannot write to {anchor}", "choose a writable folder")
