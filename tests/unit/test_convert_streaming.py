"""Conversion of streamed sources: short reads, blocks, and line numbers across block edges."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow.parquet as pq

from mhealth.convert.logs import convert_log

FIXTURES = Path(__file__).parent / "fixtures"


class _ShortReads:
    """A stream with only ``read`` (no ``readinto``), returning at most ``step`` bytes a call,
    like a network body."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = io.BytesIO(data)
        self._step = step

    def read(self, size: int = -1) -> bytes:
        return self._data.read(self._step if size < 0 else min(size, self._step))


def _convert(source: object, block_bytes: int) -> tuple[int, int, list[dict[str, object]], bytes]:
    parquet, quarantine = io.BytesIO(), io.BytesIO()
    result = convert_log(
        source,  # type: ignore[arg-type]
        "mHealth_subject2.log",
        parquet,
        quarantine,
        block_bytes=block_bytes,
    )
    table = pq.read_table(io.BytesIO(parquet.getvalue()))
    return result.rows_written, result.rows_quarantined, table.to_pylist(), quarantine.getvalue()


def test_convert_of_a_short_read_stream_equals_convert_of_the_whole_bytes() -> None:
    data = (FIXTURES / "mHealth_subject2.log").read_bytes()
    expected = _convert(io.BytesIO(data), 1 << 20)
    for step, block_bytes in ((1, 64), (7, 300), (100, 1 << 20)):
        assert _convert(_ShortReads(data, step), block_bytes) == expected


def test_convert_keeps_line_numbers_when_a_line_is_longer_than_a_block() -> None:
    good = "\t".join(["1.5"] * 23) + "\t4\n"
    long_bad = "x" * 5000 + "\n"
    data = (good * 3 + long_bad + good * 2).encode()
    rows_written, rows_quarantined, rows, quarantine = _convert(io.BytesIO(data), 256)
    assert (rows_written, rows_quarantined) == (5, 1)
    assert [row["reading_index"] for row in rows] == [0, 1, 2, 4, 5]
    assert b'"line_number": 4' in quarantine
