"""Convert step: one raw MHEALTH ``.log`` in, one stage Parquet file and its quarantine out.

The source is read in blocks of whole lines, so memory stays bounded by the block size
whatever the file size. Each block is parsed by pyarrow's CSV reader straight into typed
columns (the fast path). Only a block that the fast path cannot take whole (a short row,
a non-numeric value, a bad label, a blank line) is split into lines and validated column
by column with Arrow compute functions (the careful path), which sends each bad line to
the quarantine with its line number, raw text and reason. No per-row Python loop runs on
good data.

Stage Parquet columns (one row per good raw line, in file order): the 23 signals
(float64, named by ``mhealth.core.schema.SIGNAL_COLUMNS``), ``activity_id`` (int32, 0..12),
``subject_id`` (int32, from the file name) and ``reading_index`` (int64, the 0-based line
number in the source, so that timestamps stay right when a line is quarantined).

Quarantine: JSON lines ``{"line_number": 1-based, "reason": str, "raw": str}``.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mhealth.core.schema import (
    ACTIVITY_ID,
    MAX_ACTIVITY_ID,
    MIN_ACTIVITY_ID,
    RAW_COLUMNS,
    RAW_FIELD_COUNT,
    READING_INDEX,
    SIGNAL_COLUMNS,
    SUBJECT_ID,
    subject_id_from_name,
)

#: Bytes read from the source per block (rounded down to whole lines).
DEFAULT_BLOCK_BYTES: Final = 16 * 1024 * 1024

_STAGE_FIELDS: Final[list[pa.Field[Any]]] = [
    *(pa.field(name, pa.float64(), nullable=False) for name in SIGNAL_COLUMNS),
    pa.field(ACTIVITY_ID, pa.int32(), nullable=False),
    pa.field(SUBJECT_ID, pa.int32(), nullable=False),
    pa.field(READING_INDEX, pa.int64(), nullable=False),
]
STAGE_SCHEMA: Final = pa.schema(_STAGE_FIELDS)

# A plain or exponent decimal, as the careful path accepts it (after trimming blanks).
_NUMBER = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_INTEGER = r"^[+-]?[0-9]+$"
_TRAILING_BLANKS = re.compile(rb"[ \t]+(?=\r?\n)")

_READ_OPTIONS: Final = pacsv.ReadOptions(column_names=list(RAW_COLUMNS), use_threads=True)
_CONVERT_OPTIONS: Final = pacsv.ConvertOptions(
    column_types={**{name: pa.float64() for name in SIGNAL_COLUMNS}, ACTIVITY_ID: pa.int32()},
    null_values=[],  # "nan" and friends are malformed here, not missing values
    strings_can_be_null=False,
)


# Dictionary-encoding the float signals halves the write speed and saves little: the readings
# have few repeats, so the writer builds a dictionary per column only to fall back to plain
# encoding. Labels and the subject id repeat and keep their dictionary; the line number is a
# run of consecutive integers, which delta encoding stores in a few hundred bytes per file.
# (Measured in bench/: writing a subject file takes about half the time of the defaults, for
# files about a fifth larger. Spark 3.5 and DuckDB read both encodings.)
_WRITER_OPTIONS: Final[dict[str, Any]] = {
    "compression": "snappy",
    "use_dictionary": [ACTIVITY_ID, SUBJECT_ID],
    "column_encoding": {READING_INDEX: "DELTA_BINARY_PACKED"},
}


class EmptyLogError(ValueError):
    """A raw log with no lines at all."""


class MalformedLogError(ValueError):
    """A raw log in which no line is a valid MHEALTH record: almost surely not an MHEALTH file."""


@dataclass(frozen=True)
class ConversionResult:
    """What one conversion did: ``rows_in == rows_written + rows_quarantined`` always holds."""

    source_name: str
    subject_id: int
    rows_in: int
    rows_written: int
    rows_quarantined: int
    quarantine_reasons: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class QuarantinedLine:
    line_number: int  # 1-based, as editors show it
    reason: str
    raw: str


@dataclass(frozen=True)
class _ParsedBlock:
    table: pa.Table  # raw columns of the good lines
    reading_index: pa.Array[Any]  # int64, 0-based line numbers of those rows
    quarantined: list[QuarantinedLine]
    line_count: int


def convert_log(
    source: BinaryIO,
    source_name: str,
    parquet_sink: str | Path | BinaryIO,
    quarantine_sink: BinaryIO,
    *,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> ConversionResult:
    """Convert one raw log read from ``source`` (its name gives the subject id).

    Writes the stage Parquet to ``parquet_sink`` and the quarantined lines, as JSON lines,
    to ``quarantine_sink``. Raises ``InvalidLogName`` for a name that is not
    ``mHealth_subject<N>.log``, ``EmptyLogError`` for an empty source and
    ``MalformedLogError`` when not a single line is valid.
    """
    base_name = posixpath.basename(str(source_name))
    subject_id = subject_id_from_name(base_name)
    reasons: Counter[str] = Counter()
    rows_in = rows_written = rows_quarantined = 0
    first_reason = ""

    with pq.ParquetWriter(parquet_sink, STAGE_SCHEMA, **_WRITER_OPTIONS) as writer:
        for block, line_count in _line_blocks(source, block_bytes):
            parsed = _parse_block(block, rows_in, line_count)
            rows_in += parsed.line_count
            if parsed.table.num_rows:
                writer.write_table(_stage_table(parsed, subject_id))
                rows_written += parsed.table.num_rows
            for line in parsed.quarantined:
                first_reason = first_reason or line.reason
                reasons[_reason_kind(line.reason)] += 1
                quarantine_sink.write(_quarantine_record(line))
            rows_quarantined += len(parsed.quarantined)
            # Arrow's allocator keeps the freed pages of each block for reuse, and its heap
            # then grows with the file; handing them back keeps the peak flat (see bench/).
            pa.default_memory_pool().release_unused()

    if rows_in == 0:
        raise EmptyLogError(f"{base_name} is empty: a MHEALTH log has one record per line")
    if rows_written == 0:
        raise MalformedLogError(
            f"{base_name} has no valid MHEALTH record in its {rows_in} lines "
            f"(first problem: {first_reason}); expected {RAW_FIELD_COUNT} TAB-separated numbers "
            "per line: is this the right file?"
        )
    return ConversionResult(
        source_name=base_name,
        subject_id=subject_id,
        rows_in=rows_in,
        rows_written=rows_written,
        rows_quarantined=rows_quarantined,
        quarantine_reasons=dict(reasons),
    )


def convert_file(log_path: Path, out_dir: Path) -> ConversionResult:
    """Convert a local log into ``out_dir``: ``mHealth_subject<N>.parquet`` and, when any line
    was quarantined, ``mHealth_subject<N>.quarantine.jsonl`` (a stale one is removed)."""
    from mhealth.core.layout import quarantine_file_name, stage_file_name

    out_dir.mkdir(parents=True, exist_ok=True)
    parquet_path = out_dir / stage_file_name(log_path.name)
    quarantine_path = out_dir / quarantine_file_name(log_path.name)
    tmp_parquet = parquet_path.with_suffix(".parquet.tmp")
    tmp_quarantine = quarantine_path.with_suffix(".jsonl.tmp")
    try:
        with log_path.open("rb") as source, tmp_quarantine.open("wb") as quarantine:
            result = convert_log(source, log_path.name, str(tmp_parquet), quarantine)
    except BaseException:
        tmp_parquet.unlink(missing_ok=True)
        tmp_quarantine.unlink(missing_ok=True)
        raise
    tmp_parquet.replace(parquet_path)
    if result.rows_quarantined:
        tmp_quarantine.replace(quarantine_path)
    else:
        tmp_quarantine.unlink()
        quarantine_path.unlink(missing_ok=True)
    return result


def _line_blocks(source: BinaryIO, block_bytes: int) -> Iterator[tuple[memoryview, int | None]]:
    """Yields ``(block, lines in the block)``; every block but possibly the last ends with a
    newline. Lines are counted only in a block with a CR: without one, pyarrow reads one row
    per line, and counting 16 MiB costs as much as checking the parsed values.

    Each block is a view of one buffer that the next block overwrites, so the caller must be
    done with a block before asking for the next. Reusing the buffer keeps memory flat as files
    grow: a fresh block-sized ``bytes`` per block (three with the carry-over copies) made the C
    allocator's heap, and with it the peak memory, grow with the file size.
    """
    buffer = bytearray(max(block_bytes, 1))
    filled = 0  # bytes at the front of the buffer: the partial line carried over
    at_end = False
    while not at_end:
        if filled == len(buffer):  # one line longer than the buffer: make room, keep reading
            grown = bytearray(2 * len(buffer))
            grown[:filled] = buffer
            buffer = grown
        filled, at_end = _fill(source, buffer, filled)
        cut = buffer.rfind(b"\n", 0, filled) + 1
        if at_end and filled > cut:  # the last line has no newline
            cut = filled
        if cut == 0:
            continue
        line_count = None
        if buffer.find(b"\r", 0, cut) >= 0:
            line_count = buffer.count(b"\n", 0, cut) + (buffer[cut - 1] != ord("\n"))
        yield memoryview(buffer)[:cut], line_count
        buffer[: filled - cut] = buffer[cut:filled]
        filled -= cut


def _fill(source: BinaryIO, buffer: bytearray, filled: int) -> tuple[int, bool]:
    """Reads into ``buffer[filled:]`` until it is full or the source ends; returns the new fill
    level and whether the source ended."""
    readinto = getattr(source, "readinto", None)  # files, BytesIO and botocore's bodies have it
    view = memoryview(buffer)
    while filled < len(buffer):
        if readinto is not None:
            count = readinto(view[filled:])
        else:
            chunk = source.read(len(buffer) - filled)
            count = len(chunk)
            view[filled : filled + count] = chunk
        if not count:
            return filled, True
        filled += count
    return filled, False


def _parse_block(
    block: memoryview | bytes, start_line: int, line_count: int | None
) -> _ParsedBlock:
    """``line_count`` may be None only for a block without CR (see ``_line_blocks``)."""
    table = _parse_fast(block, line_count)
    if table is None and _TRAILING_BLANKS.search(block):
        # Trailing TABs would read as a 25th field: drop trailing blanks, then try again.
        table = _parse_fast(_TRAILING_BLANKS.sub(b"", block), line_count)
    if table is not None:
        rows = table.num_rows
        index = pa.array(np.arange(start_line, start_line + rows, dtype=np.int64))
        return _ParsedBlock(table, index, [], rows)
    if line_count is None:
        line_count = block.count(b"\n") if isinstance(block, bytes) else bytes(block).count(b"\n")
        line_count += block[-1:] != b"\n"
    return _parse_careful(block, start_line, line_count)


def _parse_fast(block: memoryview | bytes, line_count: int | None) -> pa.Table | None:
    """The whole block as typed columns, or None if any line is not a clean record.
    With ``line_count`` None (no CR in the block), every row read is one line."""
    rejected = False

    def reject(_row: pacsv.InvalidRow) -> Literal["skip"]:
        nonlocal rejected
        rejected = True
        return "skip"

    parse_options = pacsv.ParseOptions(
        delimiter="\t", quote_char=False, ignore_empty_lines=False, invalid_row_handler=reject
    )
    try:
        # A NativeFile over the block: no copy (the stubs know only Python file objects).
        reader: Any = pa.BufferReader(pa.py_buffer(block))
        table = pacsv.read_csv(
            reader,
            read_options=_READ_OPTIONS,
            parse_options=parse_options,
            convert_options=_CONVERT_OPTIONS,
        )
    except pa.ArrowInvalid:
        return None
    if rejected or (line_count is not None and table.num_rows != line_count):
        return None  # a short/long row, or a lone CR counted as a line break
    if any(column.null_count for column in table.columns):
        return None  # a blank line reads as a row of nulls
    labels = table.column(ACTIVITY_ID)
    bounds = pc.min_max(labels)
    if bounds["min"].as_py() < MIN_ACTIVITY_ID or bounds["max"].as_py() > MAX_ACTIVITY_ID:
        return None
    for name in SIGNAL_COLUMNS:
        if not pc.all(pc.is_finite(table.column(name))).as_py():
            return None
    return table


def _parse_careful(block: memoryview | bytes, start_line: int, line_count: int) -> _ParsedBlock:
    """Validates every line of a block with Arrow compute; bad lines go to quarantine."""
    text = str(block, "utf-8", errors="replace")
    raw_lines = text.split("\n")[:line_count]
    lines = pa.array(raw_lines, type=pa.large_string())
    trimmed = pc.utf8_rtrim_whitespace(lines)
    fields = pc.split_pattern(trimmed, "\t")
    field_counts = pc.list_value_length(fields).to_numpy(zero_copy_only=False)
    right_width = field_counts == RAW_FIELD_COUNT

    reasons: dict[int, str] = {
        int(row): f"expected {RAW_FIELD_COUNT} TAB-separated fields, found "
        f"{0 if not raw_lines[row].strip() else int(field_counts[row])}"
        for row in np.flatnonzero(~right_width)
    }
    candidates = np.flatnonzero(right_width)
    values = pc.utf8_trim_whitespace(
        pc.list_flatten(pc.take(fields, pa.array(candidates, type=pa.int64())))
    )
    matrix_shape = (len(candidates), RAW_FIELD_COUNT)
    numeric = pc.match_substring_regex(values, _NUMBER).to_numpy(zero_copy_only=False)
    numeric = numeric.reshape(matrix_shape)
    label_positions = np.arange(len(candidates), dtype=np.int64) * RAW_FIELD_COUNT + (
        RAW_FIELD_COUNT - 1
    )
    label_text = pc.take(values, pa.array(label_positions, type=pa.int64()))
    label_is_int = pc.match_substring_regex(label_text, _INTEGER).to_numpy(zero_copy_only=False)

    signals_ok = numeric[:, : len(SIGNAL_COLUMNS)].all(axis=1)
    for position in np.flatnonzero(~signals_ok):
        column = int(np.argmin(numeric[position, : len(SIGNAL_COLUMNS)]))
        value = values[int(position) * RAW_FIELD_COUNT + column].as_py()
        reasons[int(candidates[position])] = (
            f"non-numeric value {value!r} in field {column + 1} ({SIGNAL_COLUMNS[column]})"
        )

    label_values = np.full(len(candidates), -1, dtype=np.int64)
    if label_is_int.any():
        parsed_labels = pc.cast(pc.filter(label_text, pa.array(label_is_int)), pa.int64())
        label_values[label_is_int] = parsed_labels.to_numpy()
    label_in_range = (label_values >= MIN_ACTIVITY_ID) & (label_values <= MAX_ACTIVITY_ID)
    for position in np.flatnonzero(signals_ok & ~(label_is_int & label_in_range)):
        label = label_text[int(position)].as_py()
        reasons[int(candidates[position])] = (
            f"activity label {label!r} is not a whole number in "
            f"{MIN_ACTIVITY_ID}..{MAX_ACTIVITY_ID}"
        )

    # Values that match the pattern but overflow to infinity are malformed too.
    good_positions = np.flatnonzero(signals_ok & label_is_int & label_in_range)
    good_rows = candidates[good_positions]
    good_values = pc.take(values, _flat_positions(good_positions))
    matrix = (
        pc.cast(good_values, pa.float64()).to_numpy().reshape((len(good_rows), RAW_FIELD_COUNT))
    )
    finite = np.isfinite(matrix[:, : len(SIGNAL_COLUMNS)]).all(axis=1)
    for position in np.flatnonzero(~finite):
        reasons[int(good_rows[position])] = "a value is too large to be a sensor reading"
    matrix, good_rows = matrix[finite], good_rows[finite]

    columns: dict[str, pa.Array[Any]] = {
        name: pa.array(matrix[:, i], type=pa.float64()) for i, name in enumerate(SIGNAL_COLUMNS)
    }
    columns[ACTIVITY_ID] = pa.array(matrix[:, -1].astype(np.int32), type=pa.int32())
    quarantined = [
        QuarantinedLine(start_line + row + 1, reason, raw_lines[row].rstrip("\r"))
        for row, reason in sorted(reasons.items())
    ]
    return _ParsedBlock(
        table=pa.table(columns),
        reading_index=pa.array(good_rows.astype(np.int64) + start_line, type=pa.int64()),
        quarantined=quarantined,
        line_count=line_count,
    )


def _flat_positions(row_positions: np.ndarray[Any, Any]) -> pa.Array[Any]:
    """Indexes into the flattened (row, field) value list for whole rows."""
    offsets = row_positions[:, None] * RAW_FIELD_COUNT + np.arange(RAW_FIELD_COUNT)
    return pa.array(offsets.reshape(-1).astype(np.int64), type=pa.int64())


def _stage_table(parsed: _ParsedBlock, subject_id: int) -> pa.Table:
    rows = parsed.table.num_rows
    columns: list[pa.Array[Any] | pa.ChunkedArray[Any]] = [
        parsed.table.column(name) for name in (*SIGNAL_COLUMNS, ACTIVITY_ID)
    ]
    columns.append(pa.repeat(pa.scalar(subject_id, pa.int32()), rows))
    columns.append(parsed.reading_index)
    return pa.Table.from_arrays(columns, schema=STAGE_SCHEMA)


def _reason_kind(reason: str) -> str:
    """Groups reasons for the counts: the text before any quoted value or number."""
    if reason.startswith("expected"):
        return "wrong field count"
    if reason.startswith("non-numeric"):
        return "non-numeric value"
    if reason.startswith("activity label"):
        return "activity label out of range"
    return "value out of range"


def _quarantine_record(line: QuarantinedLine) -> bytes:
    record = {"line_number": line.line_number, "reason": line.reason, "raw": line.raw}
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
