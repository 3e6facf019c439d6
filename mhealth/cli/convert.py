"""``mhealth convert FILE... --out DIR``: raw logs → stage Parquet (+ quarantine) on local disk."""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert raw mHealth_subject<N>.log files to stage Parquet",
        description="Converts each log to <OUT>/mHealth_subject<N>.parquet; malformed lines go "
        "to <OUT>/mHealth_subject<N>.quarantine.jsonl with their line number and reason.",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR")
    parser.set_defaults(func=_convert)


def _convert(args: argparse.Namespace) -> int:
    from mhealth.convert.logs import convert_file

    started = time.perf_counter()
    total_in = total_written = total_quarantined = 0
    # Subject order (1, 2, …, 10) rather than the shell's glob order (1, 10, 2, …).
    for path in sorted(args.files, key=_natural_key):
        try:
            result = convert_file(path, args.out)
        except (OSError, ValueError) as error:
            print(f"mhealth convert: {path}: {error}", file=sys.stderr)
            return 1
        total_in += result.rows_in
        total_written += result.rows_written
        total_quarantined += result.rows_quarantined
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(result.quarantine_reasons.items()))
        print(
            f"{path.name}: {result.rows_in:,} rows in, {result.rows_written:,} written, "
            f"{result.rows_quarantined:,} quarantined" + (f" ({reasons})" if reasons else "")
        )
    print(
        f"total: {total_in:,} rows in = {total_written:,} written + {total_quarantined:,} "
        f"quarantined, {len(args.files)} files, {time.perf_counter() - started:.1f} s"
    )
    return 0


def _natural_key(path: Path) -> tuple[object, ...]:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name))
