"""Builds the Lambda layers (Linux x86_64 wheels for Python 3.12) into build/layers/ without Docker.

Each layer ``NAME`` is described by ``requirements/layer-NAME.txt`` and installed, with pip's
cross-platform options, into ``build/layers/NAME/python`` (the directory Lambda puts on
``sys.path``). Versions are pinned by ``requirements/lock.txt``. A layer is rebuilt only when its
inputs change: a stamp file beside it records their hash. ``serverless.yml`` packages the
directories; its local plugin ``serverless/plugins/lambda-layers.js`` runs this script before
packaging, and ``make layers`` runs it by hand.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

REPO: Final = Path(__file__).resolve().parent.parent
REQUIREMENTS_DIR: Final = REPO / "requirements"
LOCK_FILE: Final = REQUIREMENTS_DIR / "lock.txt"
DEFAULT_OUT: Final = REPO / "build" / "layers"

#: The Lambda runtime the wheels must fit: serverless.yml's `runtime` and `architecture`.
PIP_TARGET_OPTIONS: Final = (
    "--platform",
    "manylinux2014_x86_64",
    "--implementation",
    "cp",
    "--python-version",
    "3.12",
    "--only-binary=:all:",
)

#: Top-level entries of a layer that Lambda never imports (console scripts, Jupyter data).
PRUNED_ENTRIES: Final = ("bin", "share", "etc", "__pycache__")


@dataclass(frozen=True)
class Layer:
    """One layer: its name and the requirements file listing what goes in it."""

    name: str
    requirements: Path

    def directory(self, out: Path) -> Path:
        return out / self.name

    def stamp(self, out: Path) -> Path:
        return out / f"{self.name}.stamp.json"


def discover_layers() -> dict[str, Layer]:
    """Every ``requirements/layer-NAME.txt`` defines the layer ``NAME``."""
    layers = {}
    for path in sorted(REQUIREMENTS_DIR.glob("layer-*.txt")):
        name = path.stem.removeprefix("layer-")
        layers[name] = Layer(name=name, requirements=path)
    return layers


def inputs_hash(layer: Layer) -> str:
    """Hash of everything that decides a layer's content: its requirements, the lock, the target."""
    digest = hashlib.sha256()
    for part in (layer.requirements.read_bytes(), LOCK_FILE.read_bytes()):
        digest.update(part)
        digest.update(b"\0")
    digest.update(" ".join(PIP_TARGET_OPTIONS).encode())
    return digest.hexdigest()


def tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def is_current(layer: Layer, out: Path) -> bool:
    stamp = layer.stamp(out)
    if not stamp.is_file() or not (layer.directory(out) / "python").is_dir():
        return False
    try:
        recorded = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(recorded.get("inputs_sha256") == inputs_hash(layer))


def build(layer: Layer, out: Path, python: str) -> int:
    """Installs the layer into a fresh directory, swaps it in, and returns its unzipped size."""
    out.mkdir(parents=True, exist_ok=True)
    # Install beside the final place and rename, so an interrupted build never looks complete.
    staging = Path(tempfile.mkdtemp(prefix=f".{layer.name}-", dir=out))
    try:
        command = [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            *PIP_TARGET_OPTIONS,
            "--target",
            str(staging / "python"),
            "-c",
            str(LOCK_FILE),
            "-r",
            str(layer.requirements),
        ]
        completed = subprocess.run(command, check=False)
        if completed.returncode != 0:
            raise SystemExit(
                f"pip could not build the {layer.name!r} layer (exit {completed.returncode}): "
                f"{' '.join(command)}"
            )
        for entry in PRUNED_ENTRIES:
            shutil.rmtree(staging / "python" / entry, ignore_errors=True)
        final = layer.directory(out)
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    size = tree_size(layer.directory(out))
    layer.stamp(out).write_text(
        json.dumps({"inputs_sha256": inputs_hash(layer), "unzipped_bytes": size}, indent=2) + "\n",
        encoding="utf-8",
    )
    return size


def main(argv: list[str] | None = None) -> int:
    layers = discover_layers()
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "names",
        nargs="*",
        metavar="LAYER",
        help=f"layers to build (default: all of {sorted(layers)})",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output root (build/layers)")
    parser.add_argument("--python", default=sys.executable, help="Python whose pip does the work")
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)

    unknown = sorted(set(args.names) - set(layers))
    if unknown:
        parser.error(f"unknown layer(s) {unknown}; known: {sorted(layers)}")
    for name in args.names or sorted(layers):
        layer = layers[name]
        if not args.force and is_current(layer, args.out):
            print(f"layer {name}: up to date ({layer.directory(args.out)})")
            continue
        size = build(layer, args.out, args.python)
        print(f"layer {name}: built {layer.directory(args.out)} ({size / 1e6:.1f} MB unzipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
