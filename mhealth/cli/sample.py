"""``mhealth sample``: write a synthetic MHEALTH dataset (raw logs, README, Kaggle-style zip)."""

from __future__ import annotations

import argparse
import math
import shutil
from pathlib import Path
from typing import Any

from mhealth.cli.errors import JobFailedError, UsageError
from mhealth.cli.staging import check_output_folder, existing_ancestor, staged_output

# Mirrors mhealth.local.synthetic's defaults without importing it: that module pulls in numpy and
# pyarrow, and `mhealth --help` must stay instant.
DEFAULT_SCALE = 1.0
DEFAULT_SEED = 2014
#: The largest scale. The generator streams, so memory stays flat; what grows is disk and time:
#: scale 100 is about 122 million rows, 22 GB of logs (33 GB with the zip) and two hours of
#: generating on a 2-core machine. Beyond that a scale is a typo, not a test set.
MAX_SCALE = 100.0

#: Rows at scale 1 (the published total) and the most rows scaling can add: every subject
#: keeps at least one row of each of the 13 labels.
FULL_SIZE_ROWS = 1_215_745
_MIN_ROWS = 10 * 13
#: An upper bound of a log line's bytes (24 fields of at most 5 significant digits; the
#: synthetic logs average 181) and of the zip's size against the logs (deflate level 1: ~0.47).
BYTES_PER_ROW = 200
ZIP_SHARE = 0.6


def scale_type(text: str) -> float:
    """argparse ``type`` for ``--scale``: a number with 0 < scale <= ``MAX_SCALE``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0 or value > MAX_SCALE:
        raise argparse.ArgumentTypeError(
            f"must be above 0 and at most {MAX_SCALE:g} (1 = the full dataset), got {text!r}"
        )
    return value


def estimated_bytes(scale: float, *, with_zip: bool) -> int:
    """An upper bound of what ``write_sample`` writes at ``scale``."""
    rows = math.ceil(FULL_SIZE_ROWS * scale) + _MIN_ROWS
    return math.ceil(rows * BYTES_PER_ROW * (1 + ZIP_SHARE if with_zip else 1))


def check_disk_space(folder: Path, scale: float, *, with_zip: bool) -> None:
    """Raises ``UsageError`` when the file system of ``folder`` lacks room for the sample."""
    needed = estimated_bytes(scale, with_zip=with_zip)
    free = shutil.disk_usage(existing_ancestor(folder)).free
    if needed > free:
        raise UsageError(
            f"scale {scale:g} needs about {_gigabytes(needed)} on disk, "
            f"{existing_ancestor(folder)} has {_gigabytes(free)} free",
            "choose a smaller --scale or free some space",
        )


def _gigabytes(size: int) -> str:
    return f"{size / 1e9:.1f} GB"


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
        type=scale_type,
        default=DEFAULT_SCALE,
        metavar="F",
        help=f"share of the published row counts to write, above 0 and at most {MAX_SCALE:g} "
        f"(default {DEFAULT_SCALE:g})",
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
    """Write the sample and print one summary line. The output folder and disk space are
    checked first; the files are written into a staging folder and moved into ``--out`` only
    when all of them are written, so a failed run leaves nothing behind."""
    from mhealth.local.synthetic import write_sample

    check_output_folder(args.out)
    check_disk_space(args.out, args.scale, with_zip=args.zip)
    try:
        with staged_output(args.out) as staging:
            result = write_sample(staging, scale=args.scale, seed=args.seed, make_zip=args.zip)
    except OSError as error:
        raise JobFailedError(
            f"cannot write the sample to {args.out}: {error}", "check the folder and free space"
        ) from error
    archive = f" and {result.zip_path.name}" if result.zip_path is not None else ""
    print(
        f"wrote {result.files} files ({len(result.log_paths)} logs, README{archive}), "
        f"{result.rows:,} rows, to {args.out} in {result.seconds:.1f} s"
    )
    return 0
