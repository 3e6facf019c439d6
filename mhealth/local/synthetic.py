"""Synthetic MHEALTH data in the exact raw format: subject logs, README and a Kaggle-style zip.

The real dataset cannot be fetched on machines without internet access, so tests, benchmarks and
the local stage run on data made here. At scale 1 every (subject, label) row count equals the
published one, so row counts downstream can be checked against the real dataset's figures.

Layout of one subject's log: null-class runs interleaved with the twelve activities in order
(null, 1, null, 2, …, null, 12, null); the null rows are split across the 13 gaps by seeded
weights. Values follow a plausible per-activity pattern (gravity by posture, periodic motion at
a cadence, a heartbeat-shaped ECG with rare spikes, magnetometers rotating with the sensor) and
are rounded to 5 significant digits with at most 6 decimals, like the real files.
"""

from __future__ import annotations

import contextlib
import math
import time
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pa_csv

from mhealth.core.schema import (
    ACTIVITY_NAMES,
    RAW_FIELD_COUNT,
    READING_RATE_HZ,
    SIGNAL_COLUMNS,
)

FloatArray = npt.NDArray[np.float64]

#: Directory inside the archive (and under the output directory) that holds the logs.
DATASET_DIR: Final = "MHEALTHDATASET"
README_NAME: Final = "README.txt"
#: The name the ``kaggle`` client gives the downloaded archive: ``<dataset slug>.zip``.
ZIP_NAME: Final = "mhealth-dataset-data-set.zip"
README_ENCODING: Final = "latin-1"
DEFAULT_SEED: Final = 2014
DEFAULT_SCALE: Final = 1.0

SUBJECTS: Final[tuple[int, ...]] = tuple(range(1, 11))
#: Activities in the order each subject performed them; the null class fills the gaps.
ACTIVITY_ORDER: Final[tuple[int, ...]] = tuple(label for label in ACTIVITY_NAMES if label != 0)
NULL_LABEL: Final = 0

# Published row counts of the real dataset (UCI dataset 319, Banos et al. 2014).
PUBLISHED_TOTAL_ROWS: Final = 1_215_745
PUBLISHED_SUBJECT_ROWS: Final[Mapping[int, int]] = {
    1: 161_280,
    2: 130_561,
    3: 122_112,
    4: 116_736,
    5: 119_808,
    6: 98_304,
    7: 104_448,
    8: 129_024,
    9: 135_168,
    10: 98_304,
}
PUBLISHED_LABEL_ROWS: Final[Mapping[int, int]] = {
    0: 872_550,
    1: 30_720,
    2: 30_720,
    3: 30_720,
    4: 30_720,
    5: 30_720,
    6: 28_315,
    7: 29_441,
    8: 29_337,
    9: 30_720,
    10: 30_720,
    11: 30_720,
    12: 10_342,
}
#: One minute at 50 Hz: what every subject has of labels 1-5 and 9-11.
_MINUTE_ROWS: Final = 3_072
#: The one subject whose per-label counts were published; its labels not listed have a minute.
_SUBJECT_10_ROWS: Final[Mapping[int, int]] = {0: 64_614, 6: 2_458, 7: 2_765, 8: 2_867, 12: 1_024}

# Rounding like the real files: 5 significant digits, never more than 6 decimals. Arrow prints
# every such value (|x| >= 1e-6) as a plain decimal; _format_log checks that anyway.
_SIGNIFICANT_DIGITS: Final = 5
_MAX_DECIMALS: Final = 6

_ACC_LIMIT: Final = 22.0  # m/s²: the real accelerations stay within about ±22
_ECG_LIMIT: Final = 8.6  # mV: the largest ECG spikes in the real data
_GYRO_LIMIT: Final = 600.0  # deg/s
_ARM_MAG_Z_RANGE: Final = (-718.0, 657.0)  # the real right-arm magnetometer Z range
_GRAVITY: Final = 9.81
_ECG_SPIKE_RATE: Final = 2e-4  # share of ECG samples that are motion/electrode spikes


def log_name(subject: int) -> str:
    """The raw file name of one subject: ``mHealth_subject3.log``."""
    return f"mHealth_subject{subject}.log"


def archive_member(name: str) -> str:
    """A file's path inside the Kaggle archive: ``MHEALTHDATASET/mHealth_subject3.log``."""
    return f"{DATASET_DIR}/{name}"


# --- row counts -----------------------------------------------------------------------------


def _published_count_table() -> dict[int, dict[int, int]]:
    """The full-size {subject: {label: rows}} table, consistent with every published total.

    Only subject 10's labels 0, 6, 7, 8 and 12 were published per subject; the rest of labels
    6, 7, 8 and 12 is spread evenly over subjects 1-9, the remainder one row each to the lowest
    subjects, and label 0 takes what is left of each subject's total.
    """
    table: dict[int, dict[int, int]] = {subject: {} for subject in SUBJECTS}
    others = SUBJECTS[:-1]
    for label in ACTIVITY_ORDER:
        s10 = _SUBJECT_10_ROWS.get(label, _MINUTE_ROWS)
        table[10][label] = s10
        base, extra = divmod(PUBLISHED_LABEL_ROWS[label] - s10, len(others))
        for position, subject in enumerate(others):
            table[subject][label] = base + (1 if position < extra else 0)
    for subject in SUBJECTS:
        table[subject][NULL_LABEL] = PUBLISHED_SUBJECT_ROWS[subject] - sum(table[subject].values())
        table[subject] = dict(sorted(table[subject].items()))
    nulls = sum(table[subject][NULL_LABEL] for subject in SUBJECTS)
    if table[10][NULL_LABEL] != _SUBJECT_10_ROWS[NULL_LABEL] or nulls != PUBLISHED_LABEL_ROWS[0]:
        raise AssertionError(
            "the published MHEALTH row counts are inconsistent"
        )  # pragma: no cover
    return table


_FULL_COUNTS: Final = _published_count_table()


def validate_scale(scale: float) -> float:
    """Return ``scale`` if it is a finite number above 0, else raise ``ValueError``."""
    if not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a finite number above 0, got {scale!r}")
    return scale


def scaled_count(count: int, scale: float) -> int:
    """One (subject, label) count at ``scale``: rounded half up, at least 1.

    Half up (not Python's half-to-even ``round``) so a count never depends on the parity of
    its neighbour; the floor of 1 keeps every label in every subject at any scale. Scale 1
    returns ``count`` exactly. Because each count is rounded on its own, a scaled subject
    total is the sum of its rounded counts, which may differ by a few rows from
    ``round(published_total * scale)``.
    """
    return max(1, math.floor(count * validate_scale(scale) + 0.5))


def count_table(scale: float = DEFAULT_SCALE) -> dict[int, dict[int, int]]:
    """Rows per subject and label at ``scale``: ``{subject 1..10: {label 0..12: rows}}``.

    At scale 1 the subject and label totals equal the published ones exactly.
    """
    validate_scale(scale)
    return {
        subject: {label: scaled_count(rows, scale) for label, rows in labels.items()}
        for subject, labels in _FULL_COUNTS.items()
    }


# --- layout of a subject --------------------------------------------------------------------


def subject_runs(counts: Mapping[int, int], rng: np.random.Generator) -> list[tuple[int, int]]:
    """The (label, rows) runs of one subject: null, 1, null, 2, …, null, 12, null.

    The null rows are split across the 13 gaps in proportion to seeded weights (largest
    remainder, ties to the earlier gap), so gaps vary in length but the total is exact. A gap
    that gets no rows (possible only at tiny scales) is left out.
    """
    gaps = len(ACTIVITY_ORDER) + 1
    nulls = counts.get(NULL_LABEL, 0)
    weights = 0.5 + rng.random(gaps)
    shares = nulls * weights / weights.sum()
    sizes = np.floor(shares).astype(np.int64)
    short = nulls - int(sizes.sum())
    # Stable sort on the negated fractions: the largest remainders first, ties by position.
    order = np.argsort(-(shares - sizes), kind="stable")
    sizes[order[:short]] += 1
    runs: list[tuple[int, int]] = []
    for gap, label in enumerate((*ACTIVITY_ORDER, None)):
        if sizes[gap] > 0:
            runs.append((NULL_LABEL, int(sizes[gap])))
        if label is not None and counts.get(label, 0) > 0:
            runs.append((label, counts[label]))
    return runs


# --- values ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Motion:
    """How one activity moves the three sensors (chest, left ankle, right lower arm)."""

    posture: tuple[float, float, float]  # rad: tilt of each sensor away from standing upright
    swing: tuple[float, float, float]  # rad: extra tilt reached once per cycle
    cadence_hz: float  # cycles per second of the periodic motion
    acc_amp: tuple[float, float, float]  # m/s²: periodic acceleration on top of gravity
    gyro_amp: tuple[float, float]  # deg/s: ankle, arm
    heart_bpm: float


_UPRIGHT: Final = (0.0, 0.0, 0.0)
_MOTIONS: Final[Mapping[int, _Motion]] = {
    0: _Motion(_UPRIGHT, (0.2, 0.1, 0.4), 0.3, (0.4, 0.8, 0.8), (15, 25), 82),
    1: _Motion(_UPRIGHT, (0, 0, 0), 0.25, (0.05, 0.05, 0.05), (2, 3), 75),
    2: _Motion((0.2, 0.4, 1.3), (0, 0, 0), 0.25, (0.05, 0.05, 0.05), (2, 3), 70),
    3: _Motion((1.57, 1.57, 1.45), (0, 0, 0), 0.25, (0.04, 0.04, 0.04), (1.5, 2), 62),
    4: _Motion(_UPRIGHT, (0.05, 0.4, 0.3), 1.8, (1.8, 4.5, 2.5), (110, 80), 100),
    5: _Motion((0.15, 0.2, 0.0), (0.08, 0.5, 0.3), 1.5, (2.2, 5.0, 2.5), (130, 80), 115),
    6: _Motion(_UPRIGHT, (1.3, 0.05, 1.0), 0.25, (0.6, 0.2, 0.8), (8, 60), 95),
    7: _Motion(_UPRIGHT, (0.05, 0.0, 2.6), 0.3, (0.3, 0.1, 1.5), (5, 150), 90),
    8: _Motion((0.1, 0.0, 0.0), (0.4, 0.9, 0.3), 0.3, (1.0, 1.5, 0.8), (70, 30), 105),
    9: _Motion((0.4, 0.6, 1.0), (0.05, 0.9, 0.05), 1.1, (1.0, 3.5, 0.8), (150, 15), 120),
    10: _Motion((0.1, 0.0, 0.6), (0.1, 0.7, 0.6), 2.5, (5.5, 10.0, 6.0), (250, 180), 140),
    11: _Motion((0.15, 0.0, 0.9), (0.12, 0.9, 0.8), 2.9, (8.0, 12.0, 9.0), (350, 260), 160),
    12: _Motion((0.05, 0.0, 0.3), (0.2, 0.3, 0.3), 1.6, (10.0, 12.0, 8.0), (150, 120), 150),
}

# Gravity as each sensor sees it standing upright (unit vectors): about -9.8 on chest X and
# ankle Y, the arm hanging mostly along its X.
_UPRIGHT_GRAVITY: Final[Mapping[str, tuple[float, float, float]]] = {
    "chest": (-0.998, 0.03, 0.05),
    "ankle": (0.03, -0.998, 0.05),
    "arm": (-0.92, -0.38, 0.1),
}
_SENSORS: Final = ("chest", "ankle", "arm")
_COLUMN: Final[Mapping[str, int]] = {name: index for index, name in enumerate(SIGNAL_COLUMNS)}


def _column(sensor: str, kind: str, axis: str) -> int:
    return _COLUMN[f"{sensor}_{kind}_{axis}"]


@dataclass(frozen=True)
class _Subject:
    """What stays fixed for one subject: sensor mounting, magnetic field, body and pace."""

    tilt: FloatArray  # rad per sensor: how the sensor sits on this body
    gravity: Mapping[str, FloatArray]  # m/s² upright gravity vector per sensor
    magnetic: Mapping[str, FloatArray]  # local units: the field as each sensor sees it upright
    vigour: float  # scales every movement amplitude
    pace: float  # scales every cadence
    heart_offset: float  # bpm added to every activity's heart rate
    ecg_gain: tuple[float, float]  # lead 1, lead 2


def _make_subject(rng: np.random.Generator) -> _Subject:
    def direction() -> FloatArray:
        vector = rng.normal(size=3)
        result: FloatArray = vector / np.linalg.norm(vector)
        return result

    tilt = rng.normal(0.0, 0.05, size=3)
    gravity = {name: _GRAVITY * np.asarray(_UPRIGHT_GRAVITY[name]) for name in _SENSORS}
    # The chest and ankle units read tens, the arm unit hundreds (arm Z spans about -718..657).
    strength = {"chest": 0.0, "ankle": rng.uniform(40, 90), "arm": rng.uniform(350, 650)}
    magnetic = {name: strength[name] * direction() for name in _SENSORS}
    return _Subject(
        tilt=tilt,
        gravity=gravity,
        magnetic=magnetic,
        vigour=float(rng.uniform(0.85, 1.15)),
        pace=float(rng.uniform(0.92, 1.08)),
        heart_offset=float(rng.normal(0.0, 6.0)),
        ecg_gain=(float(rng.uniform(0.6, 0.9)), float(rng.uniform(0.4, 0.8))),
    )


def _rotate(
    vector: FloatArray, angle: FloatArray, sensor: str
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Tilt a sensor-frame vector by ``angle`` (rad, per row): X↔Z for chest and arm, Y↔Z for
    the ankle, so gravity moves from the upright axis to Z as the body leans or lies down."""
    cos, sin = np.cos(angle), np.sin(angle)
    x, y, z = (float(component) for component in vector)
    if sensor == "ankle":
        return np.full_like(angle, x), y * cos - z * sin, y * sin + z * cos
    return x * cos - z * sin, np.full_like(angle, y), x * sin + z * cos


@dataclass(frozen=True)
class _Run:
    """One run of a subject's recording: its label, where it starts and its own rhythm."""

    label: int
    start: int  # index of its first reading in the subject's file
    rows: int
    cadence_hz: float
    phase: float  # rad: where the periodic motion starts

    @property
    def end(self) -> int:
        return self.start + self.rows


def _fill_rows(
    out: FloatArray,
    *,
    at: int,
    first: int,
    rows: int,
    run: _Run,
    subject: _Subject,
    rng: np.random.Generator,
) -> None:
    """Write readings ``first .. first + rows`` of one run (accelerometer, gyroscope and
    magnetometer columns) into ``out[:, at : at + rows]``."""
    motion = _MOTIONS[run.label]
    window = slice(at, at + rows)
    t = (first + np.arange(rows, dtype=np.float64)) / READING_RATE_HZ
    # A slow wobble of the phase keeps the rhythm from being a perfect sine.
    phase = 2 * np.pi * run.cadence_hz * t + run.phase + 0.3 * np.sin(0.3 * t)
    cycle = 0.5 - 0.5 * np.cos(phase)  # 0..1 once per cycle
    for index, sensor in enumerate(_SENSORS):
        angle = subject.tilt[index] + motion.posture[index] + motion.swing[index] * cycle
        amp = motion.acc_amp[index] * subject.vigour
        noise = 0.02 + 0.05 * amp
        dynamic = (
            amp * np.sin(phase + 0.4 * index),
            0.6 * amp * np.sin(2 * phase + 0.7),
            0.4 * amp * np.sin(phase + 1.9),
        )
        for axis, g, d in zip(
            "xyz", _rotate(subject.gravity[sensor], angle, sensor), dynamic, strict=True
        ):
            column = out[_column(sensor, "acc", axis), window]
            column[:] = g + d + rng.normal(0.0, noise, rows)
            np.clip(column, -_ACC_LIMIT, _ACC_LIMIT, out=column)
        if sensor == "chest":
            continue  # the chest unit has no gyroscope or magnetometer
        gyro = motion.gyro_amp[index - 1] * subject.vigour
        spin = (
            gyro * np.sin(phase + 0.3),
            0.6 * gyro * np.cos(phase + 1.1),
            0.4 * gyro * np.sin(2 * phase),
        )
        for axis, s in zip("xyz", spin, strict=True):
            column = out[_column(sensor, "gyro", axis), window]
            column[:] = s + rng.normal(0.0, 1.0 + 0.05 * gyro, rows)
            np.clip(column, -_GYRO_LIMIT, _GYRO_LIMIT, out=column)
        magnetic = _rotate(subject.magnetic[sensor], angle, sensor)
        for offset, (axis, m) in enumerate(zip("xyz", magnetic, strict=True)):
            column = out[_column(sensor, "mag", axis), window]
            column[:] = m + 0.02 * gyro * np.sin(phase + offset) + rng.normal(0.0, 0.6, rows)
    arm_z = out[_column("arm", "mag", "z"), window]
    np.clip(arm_z, *_ARM_MAG_Z_RANGE, out=arm_z)


class _Ecg:
    """Two ECG leads written block by block: the beat phase and the wander carry over."""

    def __init__(self, subject: _Subject, rng: np.random.Generator) -> None:
        self._subject = subject
        self._beat = rng.uniform()
        self._wander_phase = rng.uniform(0, 2 * np.pi, size=2)

    def block(self, heart_bpm: FloatArray, first: int, rng: np.random.Generator) -> FloatArray:
        """Leads (rows 0 and 1) for readings ``first ..``: P, QRS and T waves at the given
        heart rate per reading, baseline wander, noise and rare spikes up to ±8.6 mV."""
        beat = self._beat + np.cumsum(heart_bpm / 60.0 / READING_RATE_HZ)
        self._beat = float(beat[-1])
        return _ecg_leads(beat, first, self._subject, self._wander_phase, rng)


def _ecg_leads(
    beat: FloatArray,
    first: int,
    subject: _Subject,
    wander_phase: FloatArray,
    rng: np.random.Generator,
) -> FloatArray:
    rows = beat.size
    frac = beat - np.floor(beat)
    wave = (
        0.12 * np.exp(-(((frac - 0.15) / 0.035) ** 2))
        + 1.0 * np.exp(-(((frac - 0.30) / 0.02) ** 2))
        - 0.25 * np.exp(-(((frac - 0.34) / 0.02) ** 2))
        + 0.3 * np.exp(-(((frac - 0.58) / 0.06) ** 2))
    )
    t = (first + np.arange(rows, dtype=np.float64)) / READING_RATE_HZ
    leads = np.empty((2, rows))
    for lead, gain in enumerate(subject.ecg_gain):
        wander = 0.06 * np.sin(2 * np.pi * 0.2 * t + wander_phase[lead])
        leads[lead] = gain * wave + wander + rng.normal(0.0, 0.025, rows)
        spikes = np.flatnonzero(rng.random(rows) < _ECG_SPIKE_RATE)
        leads[lead, spikes] = rng.choice([-1.0, 1.0], spikes.size) * rng.uniform(
            2.0, _ECG_LIMIT, spikes.size
        )
    np.clip(leads, -_ECG_LIMIT, _ECG_LIMIT, out=leads)
    return leads


#: Readings generated, rounded and formatted at a time: memory stays flat at any scale.
BLOCK_ROWS: Final = 65_536
#: Heart rate follows effort with a lag of a few seconds rather than jumping between runs.
_HEART_LAG: Final = 5 * READING_RATE_HZ


def _plan_runs(
    runs: list[tuple[int, int]], subject: _Subject, rng: np.random.Generator
) -> list[_Run]:
    plan, start = [], 0
    for label, rows in runs:
        cadence = _MOTIONS[label].cadence_hz * subject.pace * (1.0 + 0.03 * rng.normal())
        plan.append(_Run(label, start, rows, cadence, float(rng.uniform(0, 2 * np.pi))))
        start += rows
    return plan


def subject_blocks(
    subject: int,
    counts: Mapping[int, int],
    seed: int = DEFAULT_SEED,
    block_rows: int = BLOCK_ROWS,
) -> Iterator[tuple[npt.NDArray[np.int8], FloatArray]]:
    """One subject's synthetic recording as consecutive blocks of at most ``block_rows``
    readings: labels (n,) and signals (23, n), in file order, rounded like the real files.

    Signals are one row per column of ``SIGNAL_COLUMNS``. The same (subject, counts, seed,
    block_rows) always gives the same values; memory depends on ``block_rows``, not on scale.
    """
    if seed < 0:
        raise ValueError(f"seed must be 0 or more, got {seed}")
    rng = np.random.default_rng([seed, subject])
    body = _make_subject(rng)
    plan = _plan_runs(subject_runs(counts, rng), body, rng)
    ecg = _Ecg(body, rng)
    kernel = np.ones(_HEART_LAG) / _HEART_LAG
    heart_tail: FloatArray | None = None  # the last _HEART_LAG - 1 raw heart rates
    total = plan[-1].end if plan else 0
    leads = [_COLUMN["ecg_lead_1"], _COLUMN["ecg_lead_2"]]
    for first in range(0, total, block_rows):
        last = min(total, first + block_rows)
        rows = last - first
        labels = np.empty(rows, dtype=np.int8)
        signals = np.zeros((len(SIGNAL_COLUMNS), rows))
        heart = np.empty(rows)
        for run in plan:
            begin, end = max(run.start, first), min(run.end, last)
            if begin >= end:
                continue
            window = slice(begin - first, end - first)
            labels[window] = run.label
            heart[window] = _MOTIONS[run.label].heart_bpm + body.heart_offset
            _fill_rows(
                signals,
                at=begin - first,
                first=begin,
                rows=end - begin,
                run=run,
                subject=body,
                rng=rng,
            )
        if heart_tail is None:
            heart_tail = np.full(_HEART_LAG - 1, heart[0])
        padded = np.concatenate([heart_tail, heart])
        heart_tail = padded[-(_HEART_LAG - 1) :]
        smoothed = np.convolve(padded, kernel, mode="valid")
        signals[leads] = ecg.block(smoothed, first, rng)
        yield labels, round_like_real(signals)


def subject_signals(
    subject: int, counts: Mapping[int, int], seed: int = DEFAULT_SEED
) -> tuple[npt.NDArray[np.int8], FloatArray]:
    """One subject's whole recording at once (for small scales): labels and signals."""
    blocks = list(subject_blocks(subject, counts, seed))
    if not blocks:
        return np.empty(0, dtype=np.int8), np.zeros((len(SIGNAL_COLUMNS), 0))
    return (
        np.concatenate([labels for labels, _ in blocks]),
        np.concatenate([signals for _, signals in blocks], axis=1),
    )


def round_like_real(values: FloatArray) -> FloatArray:
    """Round to 5 significant digits, at most 6 decimals, with no negative zero.

    Dividing the rounded integer by an exact power of ten gives the double nearest to the
    intended decimal, so Arrow's shortest round-trip formatting prints exactly that decimal.
    """
    magnitude = np.abs(values)
    with np.errstate(divide="ignore"):
        exponent = np.floor(np.log10(magnitude, where=magnitude > 0, out=np.zeros_like(values)))
    decimals = np.clip(_SIGNIFICANT_DIGITS - 1 - exponent, 0, _MAX_DECIMALS)
    power = 10.0**decimals
    rounded: FloatArray = np.rint(values * power) / power + 0.0  # + 0.0 turns -0.0 into 0.0
    return rounded


# --- formatting and files -------------------------------------------------------------------


def format_log(labels: npt.NDArray[np.int8], signals: FloatArray) -> bytes:
    """The raw ``.log`` text: 24 TAB-separated fields per line, LF endings, no header.

    Formatting is Arrow's CSV writer (C++), never a Python loop over rows.
    """
    if signals.shape != (len(SIGNAL_COLUMNS), labels.size):
        raise ValueError(f"signals shape {signals.shape} does not match {labels.size} labels")
    if not np.isfinite(signals).all():
        raise ValueError("signals contain NaN or infinity, which the raw format never holds")
    columns = [pa.array(column) for column in signals]
    table = pa.Table.from_arrays([*columns, pa.array(labels)], names=[*SIGNAL_COLUMNS, "label"])
    sink = pa.BufferOutputStream()
    options = pa_csv.WriteOptions(
        include_header=False, delimiter="\t", quoting_style="none", batch_size=65_536
    )
    pa_csv.write_csv(table, sink, options)
    text = sink.getvalue().to_pybytes()
    # Arrow switches to exponent notation below 1e-6; the rounding keeps values above that,
    # and this guards against a future Arrow changing its thresholds.
    if b"e" in text or b"E" in text:
        raise RuntimeError("Arrow formatted a value in exponent notation; the raw format has none")
    return text


def subject_log(subject: int, scale: float = DEFAULT_SCALE, seed: int = DEFAULT_SEED) -> bytes:
    """The complete ``mHealth_subject<N>.log`` content for one subject at ``scale``."""
    if subject not in _FULL_COUNTS:
        raise ValueError(f"subject must be one of {SUBJECTS}, got {subject}")
    counts = count_table(scale)[subject]
    return b"".join(format_log(*block) for block in subject_blocks(subject, counts, seed))


_UNITS: Final[Mapping[str, str]] = {"acc": "m/s²", "ecg": "mV", "gyro": "deg/s", "mag": "local"}
_PLACES: Final[Mapping[str, str]] = {
    "chest": "chest",
    "ecg": "chest",
    "ankle": "left ankle",
    "arm": "right lower arm",
}


def readme_text(scale: float = DEFAULT_SCALE, seed: int = DEFAULT_SEED) -> str:
    """The dataset README: what the data is, how it was made, its columns and the labels."""
    lines = [
        "MHEALTH dataset - SYNTHETIC DATA",
        "",
        "This is SYNTHETIC data generated by mhealth-pipeline (`mhealth sample`) in the exact",
        "format of the MHEALTH (Mobile HEALTH) dataset. It contains no real measurements.",
        "The original dataset: O. Banos, R. Garcia, A. Saez, et al., UCI Machine Learning",
        "Repository dataset 319 (2014), licensed CC BY 4.0.",
        "",
        f"Files: {log_name(1)} ... {log_name(len(SUBJECTS))}, one per subject.",
        f"Each line is one sample at {READING_RATE_HZ} Hz: {RAW_FIELD_COUNT} TAB-separated fields,",
        "no header, no timestamp column.",
        f"Generated with scale {scale:g} and seed {seed}. At scale 1 the row counts per subject",
        "and per activity equal the original's; smaller scales shrink each count proportionally.",
        "",
        "Columns:",
    ]
    for number, name in enumerate(SIGNAL_COLUMNS, start=1):
        place, kind, *_ = name.split("_")
        unit = _UNITS[place if place == "ecg" else kind]
        lines.append(f"  {number:2d}  {name:<14} {_PLACES[place]}, unit {unit}")
    lines.append(f"  {RAW_FIELD_COUNT:2d}  label          activity id (see below)")
    lines += ["", "Activity labels:"]
    lines += [f"  L{label}: {name}" for label, name in ACTIVITY_NAMES.items()]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class SampleResult:
    """What ``write_sample`` wrote: paths, rows per subject and how long it took."""

    out_dir: Path
    log_paths: tuple[Path, ...]
    readme_path: Path
    zip_path: Path | None
    rows_by_subject: Mapping[int, int]
    seconds: float

    @property
    def rows(self) -> int:
        return sum(self.rows_by_subject.values())

    @property
    def files(self) -> int:
        return len(self.log_paths) + 1 + (self.zip_path is not None)


# A fixed member timestamp keeps the archive byte-identical for a seed.
_ZIP_DATE_TIME: Final = (2014, 1, 1, 0, 0, 0)


def _zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(archive_member(name), date_time=_ZIP_DATE_TIME)
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    # Level 1 (speed over size, the archive is a stand-in). A ZipInfo handed to open() or
    # writestr() keeps its own level, which only this attribute sets in Python 3.12.
    info._compresslevel = 1  # type: ignore[attr-defined]
    return info


def _zip_member(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    archive.writestr(_zip_info(name), data)


def _write_log(
    path: Path,
    archive: zipfile.ZipFile | None,
    subject: int,
    counts: Mapping[int, int],
    seed: int,
) -> int:
    """Stream one subject's log, block by block, to ``path`` and (if given) into the archive;
    returns its rows."""
    rows = 0
    with contextlib.ExitStack() as stack:
        file = stack.enter_context(path.open("wb"))
        member = (
            stack.enter_context(archive.open(_zip_info(path.name), "w", force_zip64=True))
            if archive is not None
            else None
        )
        for labels, signals in subject_blocks(subject, counts, seed):
            text = format_log(labels, signals)
            file.write(text)
            if member is not None:
                member.write(text)
            rows += int(labels.size)
    return rows


def write_sample(
    out_dir: str | Path,
    *,
    scale: float = DEFAULT_SCALE,
    seed: int = DEFAULT_SEED,
    make_zip: bool = False,
) -> SampleResult:
    """Write ``out_dir/MHEALTHDATASET/`` (10 logs and a Latin-1 README.txt) and, with
    ``make_zip``, ``out_dir/mhealth-dataset-data-set.zip`` laid out like Kaggle's copy.

    Existing files of the same names are replaced. The same scale and seed give the same bytes.
    """
    began = time.perf_counter()
    validate_scale(scale)
    root = Path(out_dir)
    dataset = root / DATASET_DIR
    dataset.mkdir(parents=True, exist_ok=True)
    readme = readme_text(scale, seed).encode(README_ENCODING)
    readme_path = dataset / README_NAME
    readme_path.write_bytes(readme)
    zip_path = root / ZIP_NAME if make_zip else None
    archive = zipfile.ZipFile(zip_path, "w") if zip_path is not None else None
    log_paths: list[Path] = []
    rows_by_subject: dict[int, int] = {}
    try:
        if archive is not None:
            _zip_member(archive, README_NAME, readme)
        counts = count_table(scale)
        for subject in SUBJECTS:
            path = dataset / log_name(subject)
            rows_by_subject[subject] = _write_log(path, archive, subject, counts[subject], seed)
            log_paths.append(path)
    finally:
        if archive is not None:
            archive.close()
    return SampleResult(
        out_dir=root,
        log_paths=tuple(log_paths),
        readme_path=readme_path,
        zip_path=zip_path,
        rows_by_subject=rows_by_subject,
        seconds=time.perf_counter() - began,
    )
