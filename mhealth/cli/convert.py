"""``mhealth convert FILE... --out DIR``: raw logs → stage Parquet (+ quarantine) on local disk."""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from mhealth.cli.errors import JobFailedError, UsageError
from mhealth.cli.staging import check_output_folder, staged_output


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert raw mHealth_subject<N>.log files to stage Parquet",
        description="Converts each log to <OUT>/mHealth_subject<N>.parquet; malformed lines go "
        "to <OUT>/mHealth_subject<N>.quarantine.jsonl with their line number and reason. Every "
        "input is checked before any is converted, and the files reach <OUT> only when all "
        "converted: a failed run leaves <OUT> as it was.",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR")
    parser.set_defaults(func=_convert)


def _convert(args: argparse.Namespace) -> int:
    from mhealth.convert.logs import convert_file

    check_output_folder(args.out)
    _check_inputs(args.files)
    started = time.perf_counter()
    total_in = total_written = total_quarantined = 0
    lines: list[str] = []
    with staged_output(args.out) as staging:
        # Subject order (1, 2, …, 10) rather than the shell's glob order (1, 10, 2, …).
        for path in sorted(args.files, key=_natural_key):
            try:
                result = convert_file(path, staging)
            except (OSError, ValueError) as error:
                raise JobFailedError(
                    f"{path}: {error}",
                    f"fix that file or leave it out; nothing was written to {args.out}",
                ) from error
            total_in += result.rows_in
            total_written += result.rows_written
            total_quarantined += result.rows_quarantined
            reasons = ", ".join(f"{k}: {v}" for k, v in sorted(result.quarantine_reasons.items()))
            lines.append(
                f"{path.name}: {result.rows_in:,} rows in, {result.rows_written:,} written, "
                f"{result.rows_quarantined:,} quarantined" + (f" ({reasons})" if reasons else "")
            )
    print("\n".join(lines))
    print(
        f"total: {total_in:,} rows in = {total_written:,} written + {total_quarantined:,} "
        f"quarantined, {len(args.files)} files, {time.perf_counter() - started:.1f} s"
    )
    return 0


def _check_inputs(files: list[Path]) -> None:
    """Raises ``UsageError`` naming every input that cannot be converted: missing, not a
    file, empty, not named ``mHealth_subject<N>.log``, or named twice (same output file)."""
    from mhealth.core.schema import subject_id_from_name

    problems: list[str] = []
    seen: dict[str, Path] = {}
    for path in files:
        if not path.exists():
            problems.append(f"{path}: no such file")
        elif not path.is_file():
            problems.append(f"{path}: not a file")
        elif path.stat().st_size == 0:
            problems.append(f"{path}: empty (a MHEALTH log has one reading per line)")
        else:
            try:
                subject_id_from_name(path.name)
            except ValueError as error:
                problems.append(f"{path}: {error}")
                continue
            if path.name in seen:
                problems.append(f"{path}: same name as {seen[path.name]} (one output file each)")
            seen[path.name] = path
    if problems:
        raise UsageError(
            f"{len(problems)} of {len(files)} inputs cannot be converted: " + "; ".join(problems),
            "fix or leave out those files; nothing was written",
        )


def _natural_key(path: Path) -> tuple[object, ...]:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name))
