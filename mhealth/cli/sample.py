"""``mhealth sample``: write a synthetic MHEALTH dataset (raw logs, README, Kaggle-style zip)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

# Mirrors mhealth.local.synthetic's defaults without importing it: that module pulls in numpy and
# pyarrow, and `mhealth --help` must stay instant.
DEFAULT_SCALE = 1.0
DEFAULT_SEED = 2014


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text!r}")
    return value


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``mhealth sample --out DIR [--scale F] [--seed N] [--zip]``."""
    parser = subparsers.add_parser(
        "sample",
        help="write a synthetic MHEALTH dataset in the exact raw format",
        description="Write DIR/MHEALTHDATASET/mHealth_subject1..10.log and a Latin-1 README.txt "
        "in the raw MHEALTH format. At scale 1 the row counts per subject and label equal the "
        "published ones; smaller scales shrink every count (rounded half up, at least 1 row per "
        "label and subject). The same scale and seed give the same bytes.",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output directory")
    parser.add_argument(
        "--scale",
        type=_scale,
        default=DEFAULT_SCALE,
        metavar="F",
        help=f"share of the published row counts to write (default {DEFAULT_SCALE:g})",
    )
    parser.add_argument(
        "--seed", type=_seed, default=DEFAULT_SEED, metavar="N", help=f"default {DEFAULT_SEED}"
    )
    parser.add_argument(
        "--zip",
        action="store_true",
        help="also write DIR/mhealth-dataset-data-set.zip laid out like the Kaggle download",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the sample and print one summary line; exit code 1 if the files cannot be written."""
    from mhealth.local.synthetic import write_sample

    try:
        result = write_sample(args.out, scale=args.scale, seed=args.seed, make_zip=args.zip)
    except OSError as error:
        print(f"mhealth sample: cannot write to {args.out}: {error}", file=sys.stderr)
        return 1
    archive = f" and {result.zip_path.name}" if result.zip_path is not None else ""
    print(
        f"wrote {result.files} files ({len(result.log_paths)} logs, README{archive}), "
        f"{result.rows:,} rows, to {result.out_dir} in {result.seconds:.1f} s"
    )
    return 0
