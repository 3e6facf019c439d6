"""Unit tests of the synthetic MHEALTH generator: counts, raw format, README, zip, determinism."""

from __future__ import annotations

import argparse
import math
import re
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest

from mhealth.cli import sample as sample_command
from mhealth.core.schema import ACTIVITY_ID, RAW_COLUMNS, SIGNAL_COLUMNS
from mhealth.local import synthetic as sample
from tests import published

PUBLISHED_TOTAL = published.TOTAL_ROWS
PUBLISHED_PER_SUBJECT = published.ROWS_PER_SUBJECT
PUBLISHED_PER_LABEL = published.ROWS_PER_LABEL
PUBLISHED_SUBJECT_10 = published.ROWS_PER_LABEL_SUBJECT_10
LOG_NAMES = [f"mHealth_subject{n}.log" for n in range(1, 11)]
SMALL_SCALE = 0.01
SMALL_SEED = 7

# One raw line: 23 plain decimals (no exponent, no trailing zeros, no leading "+"), then the
# label 0..12, then LF. Negative zero is checked separately.
NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?"
LINE = re.compile(rf"(?:{NUMBER}\t){{23}}(?:[0-9]|1[0-2])\n")


def read_labels(path: Path) -> np.ndarray:
    """The label column (field 24) of a raw log."""
    table = pa_csv.read_csv(
        path,
        read_options=pa_csv.ReadOptions(column_names=list(RAW_COLUMNS)),
        parse_options=pa_csv.ParseOptions(delimiter="\t"),
        convert_options=pa_csv.ConvertOptions(
            include_columns=[ACTIVITY_ID], column_types={ACTIVITY_ID: pa.int8()}
        ),
    )
    return table.column(ACTIVITY_ID).to_numpy()


def read_log(path: Path) -> dict[str, np.ndarray]:
    """Every column of a raw log as float64 arrays (the label as int), keyed by schema name."""
    table = pa_csv.read_csv(
        path,
        read_options=pa_csv.ReadOptions(column_names=list(RAW_COLUMNS)),
        parse_options=pa_csv.ParseOptions(delimiter="\t"),
    )
    return {name: table.column(name).to_numpy() for name in RAW_COLUMNS}


def label_counts(path: Path) -> dict[int, int]:
    values, counts = np.unique(read_labels(path), return_counts=True)
    return {int(value): int(count) for value, count in zip(values, counts, strict=True)}


@pytest.fixture(scope="module")
def small_sample(tmp_path_factory: pytest.TempPathFactory) -> sample.SampleResult:
    out = tmp_path_factory.mktemp("sample_small")
    return sample.write_sample(out, scale=SMALL_SCALE, seed=SMALL_SEED, make_zip=True)


# --- the count table ------------------------------------------------------------------------


def test_count_table_at_full_scale_equals_published_subject_and_label_totals() -> None:
    table = sample.count_table(1)

    per_subject = {subject: sum(labels.values()) for subject, labels in table.items()}
    per_label: Counter[int] = Counter()
    for labels in table.values():
        per_label.update(labels)

    assert per_subject == PUBLISHED_PER_SUBJECT
    assert dict(per_label) == PUBLISHED_PER_LABEL
    assert sum(per_subject.values()) == PUBLISHED_TOTAL
    assert table[10] == PUBLISHED_SUBJECT_10
    assert all(set(labels) == set(range(13)) for labels in table.values())


def test_count_table_spreads_the_remainder_of_odd_labels_over_subjects_1_to_9() -> None:
    table = sample.count_table(1)

    assert {table[s][6] for s in range(1, 10)} == {2_873}
    assert {table[s][7] for s in range(1, 10)} == {2_964}
    assert sorted(table[s][8] for s in range(1, 10)) == [2_941] * 8 + [2_942]
    assert sorted(table[s][12] for s in range(1, 10)) == [1_035] * 6 + [1_036] * 3


def test_scaled_count_table_keeps_every_label_and_shrinks_each_count_half_up() -> None:
    full = sample.count_table(1)
    small = sample.count_table(SMALL_SCALE)

    for subject, labels in full.items():
        for label, rows in labels.items():
            expected = max(1, math.floor(rows * SMALL_SCALE + 0.5))
            assert small[subject][label] == expected, (subject, label)
    assert small[1][1] == 31  # 30.72 rounds up
    assert small[10][12] == 10  # 10.24 rounds down
    assert sample.count_table(1e-6)[10] == dict.fromkeys(range(13), 1)


@pytest.mark.parametrize("scale", [0, -0.5, math.inf, math.nan])
def test_count_table_rejects_a_scale_that_is_not_a_positive_number(scale: float) -> None:
    with pytest.raises(ValueError, match="scale"):
        sample.count_table(scale)


# --- the generated files --------------------------------------------------------------------


def test_sample_files_hold_the_counted_rows_per_subject_and_label(
    small_sample: sample.SampleResult,
) -> None:
    expected = sample.count_table(SMALL_SCALE)
    dataset = small_sample.out_dir / "MHEALTHDATASET"

    assert sorted(p.name for p in dataset.iterdir()) == sorted([*LOG_NAMES, "README.txt"])
    for subject in range(1, 11):
        assert label_counts(dataset / f"mHealth_subject{subject}.log") == expected[subject]
    assert small_sample.rows == sum(sum(labels.values()) for labels in expected.values())


def test_every_line_has_24_tab_separated_plain_decimals_and_a_label(
    small_sample: sample.SampleResult,
) -> None:
    for path in small_sample.log_paths:
        data = path.read_bytes()
        text = data.decode("ascii")
        assert b"\r" not in data
        assert text.endswith("\n")
        lines = text.splitlines(keepends=True)
        assert (
            len(lines)
            == small_sample.rows_by_subject[int(path.stem.removeprefix("mHealth_subject"))]
        )
        bad = [line for line in lines if LINE.fullmatch(line) is None]
        assert bad == [], f"{path.name}: {bad[:3]}"
        fields = [field for line in lines for field in line.rstrip("\n").split("\t")]
        assert "-0" not in fields
        assert not any(field.lower() in {"nan", "inf", "-inf"} for field in fields)


def test_subject_alternates_null_class_runs_with_the_activities_in_order(
    small_sample: sample.SampleResult,
) -> None:
    for path in small_sample.log_paths:
        labels = read_labels(path)
        run_starts = np.flatnonzero(np.diff(labels) != 0) + 1
        run_labels = labels[np.r_[0, run_starts]].tolist()
        expected = [0]
        for activity in range(1, 13):
            expected += [activity, 0]
        assert run_labels == expected, path.name


def test_values_stay_in_the_real_ranges_and_follow_posture(
    small_sample: sample.SampleResult,
) -> None:
    columns = read_log(small_sample.log_paths[0])
    labels = columns[ACTIVITY_ID]
    acc = [name for name in SIGNAL_COLUMNS if "_acc_" in name]
    gyro = [name for name in SIGNAL_COLUMNS if "_gyro_" in name]
    ecg = np.concatenate([columns["ecg_lead_1"], columns["ecg_lead_2"]])

    assert max(np.abs(columns[name]).max() for name in acc) <= 22
    assert np.abs(ecg).max() <= 8.6
    assert np.mean(np.abs(ecg) <= 1) > 0.99
    assert 10 < max(np.abs(columns[name]).max() for name in gyro) < 1000
    assert columns["arm_mag_z"].min() >= -718 and columns["arm_mag_z"].max() <= 657
    assert 10 < max(np.abs(columns[f"arm_mag_{axis}"]).max() for axis in "xyz") < 1000
    standing, lying, running = labels == 1, labels == 3, labels == 11
    assert columns["chest_acc_x"][standing].mean() == pytest.approx(-9.8, abs=0.5)
    assert columns["ankle_acc_y"][standing].mean() == pytest.approx(-9.8, abs=0.5)
    assert abs(columns["chest_acc_x"][lying].mean()) < 2
    assert abs(columns["chest_acc_z"][lying].mean()) > 8
    assert columns["ankle_acc_y"][running].std() > 5 * columns["ankle_acc_y"][standing].std()


def test_readme_is_latin_1_and_says_the_data_is_synthetic(
    small_sample: sample.SampleResult,
) -> None:
    data = small_sample.readme_path.read_bytes()
    text = data.decode("latin-1")

    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert "m/s²" in text
    assert "SYNTHETIC" in text
    assert "CC BY 4.0" in text and "Banos" in text
    assert all(name in text for name in SIGNAL_COLUMNS)
    assert all(name in text for name in published.ACTIVITY_LABELS.values())


def test_zip_holds_the_logs_and_readme_under_mhealthdataset_like_kaggle(
    small_sample: sample.SampleResult,
) -> None:
    assert small_sample.zip_path == small_sample.out_dir / "mhealth-dataset-data-set.zip"
    with zipfile.ZipFile(small_sample.zip_path) as archive:
        names = archive.namelist()
        assert sorted(names) == sorted(f"MHEALTHDATASET/{n}" for n in [*LOG_NAMES, "README.txt"])
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_DEFLATED}
        for path in [*small_sample.log_paths, small_sample.readme_path]:
            assert archive.read(f"MHEALTHDATASET/{path.name}") == path.read_bytes()


def test_same_seed_gives_identical_bytes_and_another_seed_different_values(
    tmp_path: Path,
) -> None:
    first = sample.write_sample(tmp_path / "a", scale=0.002, seed=3, make_zip=True)
    again = sample.write_sample(tmp_path / "b", scale=0.002, seed=3, make_zip=True)
    other = sample.write_sample(tmp_path / "c", scale=0.002, seed=4)

    assert first.zip_path is not None and again.zip_path is not None
    assert first.zip_path.read_bytes() == again.zip_path.read_bytes()
    for a, b, c in zip(first.log_paths, again.log_paths, other.log_paths, strict=True):
        assert a.read_bytes() == b.read_bytes()
        assert a.read_bytes() != c.read_bytes()
        assert label_counts(a) == label_counts(c)  # the seed changes values, not counts
    assert sample.subject_log(10, scale=0.002, seed=3) == first.log_paths[-1].read_bytes()


# --- rounding and formatting ----------------------------------------------------------------


def test_values_are_rounded_to_five_significant_digits_and_at_most_six_decimals() -> None:
    values = np.array([-9.818_43, 0.009_971_23, 657.123_456, 0.000_000_4, -0.000_000_4, 0.0])

    rounded = sample.round_like_real(values)

    assert rounded.tolist() == [-9.8184, 0.009971, 657.12, 0.0, 0.0, 0.0]
    assert np.signbit(rounded).tolist() == [True, False, False, False, False, False]  # no -0.0


def test_format_log_prints_small_and_large_values_as_plain_decimals() -> None:
    values = [1e-6, -0.0001, 0.000_015, -0.0, 123.45, -718.0, 8.6, 0.1 + 0.2]
    signals = np.array([sample.round_like_real(np.array(values))] * 23)
    labels = np.arange(len(values), dtype=np.int8)

    lines = sample.format_log(labels, signals).decode("ascii").splitlines()

    expected = ["0.000001", "-0.0001", "0.000015", "0", "123.45", "-718", "8.6", "0.3"]
    assert [line.split("\t")[0] for line in lines] == expected
    assert [line.split("\t")[-1] for line in lines] == [str(n) for n in range(len(values))]
    assert all(line.count("\t") == 23 for line in lines)


def test_format_log_rejects_nan() -> None:
    signals = np.zeros((23, 2))
    signals[5, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        sample.format_log(np.zeros(2, dtype=np.int8), signals)


# --- the CLI --------------------------------------------------------------------------------


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mhealth")
    sample_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_cli_writes_the_sample_and_prints_a_one_line_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli(["sample", "--out", str(tmp_path), "--scale", "0.002", "--seed", "1", "--zip"])

    out = capsys.readouterr().out
    assert code == 0
    assert len(out.splitlines()) == 1
    rows = sum(sum(labels.values()) for labels in sample.count_table(0.002).values())
    assert f"{rows:,} rows" in out and "12 files" in out
    assert (tmp_path / "mhealth-dataset-data-set.zip").is_file()
    assert sorted(p.name for p in (tmp_path / "MHEALTHDATASET").glob("*.log")) == sorted(LOG_NAMES)


@pytest.mark.parametrize("argv", [["--scale", "0"], ["--scale", "x"], ["--seed", "-1"]])
def test_cli_rejects_bad_scale_or_seed(tmp_path: Path, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_cli(["sample", "--out", str(tmp_path), *argv])
    assert exit_info.value.code == 2


def test_cli_defaults_match_the_library() -> None:
    assert sample_command.DEFAULT_SCALE == sample.DEFAULT_SCALE
    assert sample_command.DEFAULT_SEED == sample.DEFAULT_SEED


# --- full size ------------------------------------------------------------------------------


@pytest.mark.slow
def test_full_size_files_hold_exactly_the_published_rows_per_subject_and_label(
    tmp_path: Path,
) -> None:
    result = sample.write_sample(tmp_path, scale=1)

    per_label: Counter[int] = Counter()
    per_subject = {}
    for subject in range(1, 11):
        counts = label_counts(tmp_path / "MHEALTHDATASET" / f"mHealth_subject{subject}.log")
        per_subject[subject] = sum(counts.values())
        per_label.update(counts)
        if subject == 10:
            assert counts == PUBLISHED_SUBJECT_10
    assert per_subject == PUBLISHED_PER_SUBJECT
    assert dict(per_label) == PUBLISHED_PER_LABEL
    assert result.rows == PUBLISHED_TOTAL


def test_generator_streams_each_subject_in_bounded_blocks() -> None:
    counts = sample.count_table(0.2)[1]
    sizes = [
        labels.size
        for labels, signals in sample.subject_blocks(1, counts, SMALL_SEED, block_rows=5_000)
        if signals.shape == (23, labels.size)
    ]
    assert max(sizes) == 5_000
    assert sum(sizes) == sum(counts.values())
    # Each of the 13 counts is rounded on its own: within 13 rows of 0.2 × 161,280.
    assert abs(sum(sizes) - 32_256) <= 13
    assert all(size == 5_000 for size in sizes[:-1])
