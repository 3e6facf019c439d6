"""Conversion of raw logs to stage Parquet: exact rows, exact quarantine, file-level errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mhealth.convert.logs import (
    STAGE_SCHEMA,
    EmptyLogError,
    MalformedLogError,
    convert_file,
    convert_log,
)
from mhealth.core.schema import STAGE_COLUMNS, InvalidLogName

FIXTURES = Path(__file__).parent / "fixtures"


def _signals(k: int) -> list[float]:
    """The signal values the fixtures were written with for row pattern ``k``."""
    return [round(-9.8 + 0.1 * k, 4)] + [round(0.5 * i + k / 100, 4) for i in range(1, 23)]


def _read_quarantine(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_convert_clean_file_keeps_every_row_with_exact_values(tmp_path: Path) -> None:
    result = convert_file(FIXTURES / "mHealth_subject1.log", tmp_path)

    assert (result.rows_in, result.rows_written, result.rows_quarantined) == (4, 4, 0)
    table = pq.read_table(tmp_path / "mHealth_subject1.parquet")
    assert table.schema.equals(STAGE_SCHEMA)
    # Written out by hand: the 24 raw fields in the dataset README's order, then ours.
    assert table.column_names == [
        *("chest_acc_x", "chest_acc_y", "chest_acc_z", "ecg_lead_1", "ecg_lead_2"),
        *("ankle_acc_x", "ankle_acc_y", "ankle_acc_z", "ankle_gyro_x", "ankle_gyro_y"),
        *("ankle_gyro_z", "ankle_mag_x", "ankle_mag_y", "ankle_mag_z"),
        *("arm_acc_x", "arm_acc_y", "arm_acc_z", "arm_gyro_x", "arm_gyro_y", "arm_gyro_z"),
        *("arm_mag_x", "arm_mag_y", "arm_mag_z"),
        *("activity_id", "subject_id", "reading_index"),
    ]
    assert [str(table.schema.field(i).type) for i in (0, 22, 23, 24, 25)] == [
        "double",
        "double",
        "int32",
        "int32",
        "int64",
    ]
    rows = table.to_pylist()
    for k, row in enumerate(rows):
        assert [row[name] for name in STAGE_COLUMNS[:23]] == _signals(k)
        assert row["activity_id"] == k % 13
        assert row["subject_id"] == 1
        assert row["reading_index"] == k
    assert not (tmp_path / "mHealth_subject1.quarantine.jsonl").exists()


def test_convert_quarantines_each_malformed_line_with_its_reason(tmp_path: Path) -> None:
    result = convert_file(FIXTURES / "mHealth_subject2.log", tmp_path)

    assert (result.rows_in, result.rows_written, result.rows_quarantined) == (9, 4, 5)
    assert result.rows_in == result.rows_written + result.rows_quarantined
    assert result.quarantine_reasons == {
        "wrong field count": 3,
        "non-numeric value": 1,
        "activity label out of range": 1,
    }
    table = pq.read_table(tmp_path / "mHealth_subject2.parquet").to_pylist()
    # CRLF, trailing spaces and a trailing TAB are tolerated; reading_index keeps the line
    # position, so the row after the quarantined ones is still sample 8.
    assert [row["reading_index"] for row in table] == [0, 1, 2, 8]
    assert [row["activity_id"] for row in table] == [0, 1, 2, 3]
    assert [row["chest_acc_x"] for row in table] == [-9.8, -9.7, -9.6, -9.5]
    assert {row["subject_id"] for row in table} == {2}

    quarantine = _read_quarantine(tmp_path / "mHealth_subject2.quarantine.jsonl")
    assert [(q["line_number"], q["reason"]) for q in quarantine] == [
        (4, "expected 24 TAB-separated fields, found 3"),
        (5, "non-numeric value 'abc' in field 6 (ankle_acc_x)"),
        (6, "activity label '13' is not a whole number in 0..12"),
        (7, "expected 24 TAB-separated fields, found 0"),
        (8, "expected 24 TAB-separated fields, found 25"),
    ]
    assert quarantine[0]["raw"] == "1.0\t2.0\t3.0"


def test_convert_gives_the_same_result_whatever_the_block_size() -> None:
    data = (FIXTURES / "mHealth_subject2.log").read_bytes()
    outputs = []
    for block_bytes in (64, 300, 1 << 20):
        parquet, quarantine = io.BytesIO(), io.BytesIO()
        result = convert_log(
            io.BytesIO(data), "mHealth_subject2.log", parquet, quarantine, block_bytes=block_bytes
        )
        outputs.append(
            (
                result.rows_written,
                result.rows_quarantined,
                pq.read_table(io.BytesIO(parquet.getvalue())).to_pylist(),
                quarantine.getvalue(),
            )
        )
    assert outputs[0] == outputs[1] == outputs[2]


def test_convert_accepts_a_last_line_without_newline() -> None:
    data = (FIXTURES / "mHealth_subject1.log").read_bytes().rstrip(b"\n")
    parquet = io.BytesIO()
    result = convert_log(io.BytesIO(data), "mHealth_subject1.log", parquet, io.BytesIO())
    assert (result.rows_in, result.rows_written) == (4, 4)


def test_convert_quarantines_nan_and_infinity() -> None:
    line = "\t".join(["1.0"] * 23) + "\t1"
    data = "\n".join([line, line.replace("1.0", "nan", 1), line.replace("1.0", "1e999", 1)])
    quarantine = io.BytesIO()
    result = convert_log(
        io.BytesIO(data.encode()), "mHealth_subject9.log", io.BytesIO(), quarantine
    )
    assert (result.rows_written, result.rows_quarantined) == (1, 2)
    reasons = [json.loads(x)["reason"] for x in quarantine.getvalue().splitlines()]
    assert reasons == [
        "non-numeric value 'nan' in field 1 (chest_acc_x)",
        "a value is too large to be a sensor reading",
    ]


def test_convert_rejects_an_empty_file_and_leaves_no_output(tmp_path: Path) -> None:
    with pytest.raises(EmptyLogError, match=r"mHealth_subject3\.log is empty"):
        convert_file(FIXTURES / "mHealth_subject3.log", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_convert_rejects_a_file_with_no_valid_line(tmp_path: Path) -> None:
    with pytest.raises(MalformedLogError, match=r"no valid MHEALTH record in its 3 lines"):
        convert_file(FIXTURES / "mHealth_subject4.log", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_convert_rejects_a_name_without_subject_number(tmp_path: Path) -> None:
    with pytest.raises(InvalidLogName, match=r"expected mHealth_subject<N>\.log"):
        convert_file(FIXTURES / "subject5.log", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_convert_rerun_replaces_outputs_and_drops_stale_quarantine(tmp_path: Path) -> None:
    messy = FIXTURES / "mHealth_subject2.log"
    convert_file(messy, tmp_path)
    assert (tmp_path / "mHealth_subject2.quarantine.jsonl").exists()

    clean = tmp_path / "in" / "mHealth_subject2.log"
    clean.parent.mkdir()
    clean.write_bytes((FIXTURES / "mHealth_subject1.log").read_bytes())
    result = convert_file(clean, tmp_path)

    assert result.rows_quarantined == 0
    assert not (tmp_path / "mHealth_subject2.quarantine.jsonl").exists()
    assert pq.read_table(tmp_path / "mHealth_subject2.parquet").num_rows == 4
