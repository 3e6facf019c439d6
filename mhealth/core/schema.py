"""The MHEALTH record layout: raw fields, stage columns, final table columns and activity names.

This is the one place for these facts; the converter, the Glue transform, the catalog
definition, the synthetic generator and the tests all read them from here.
"""

from __future__ import annotations

import re
from typing import Final

#: The 23 signal fields of a raw ``.log`` line, in file order, as snake_case column names.
SIGNAL_COLUMNS: Final[tuple[str, ...]] = (
    "chest_acc_x",
    "chest_acc_y",
    "chest_acc_z",
    "ecg_lead_1",
    "ecg_lead_2",
    "ankle_acc_x",
    "ankle_acc_y",
    "ankle_acc_z",
    "ankle_gyro_x",
    "ankle_gyro_y",
    "ankle_gyro_z",
    "ankle_mag_x",
    "ankle_mag_y",
    "ankle_mag_z",
    "arm_acc_x",
    "arm_acc_y",
    "arm_acc_z",
    "arm_gyro_x",
    "arm_gyro_y",
    "arm_gyro_z",
    "arm_mag_x",
    "arm_mag_y",
    "arm_mag_z",
)

#: The 24th raw field: the activity label.
ACTIVITY_ID: Final = "activity_id"
#: Columns added by the conversion.
SUBJECT_ID: Final = "subject_id"
READING_INDEX: Final = "reading_index"

#: The raw fields, in file order.
RAW_COLUMNS: Final[tuple[str, ...]] = (*SIGNAL_COLUMNS, ACTIVITY_ID)
RAW_FIELD_COUNT: Final = len(RAW_COLUMNS)  # 24

#: Stage Parquet columns: one row per raw line, in file order.
STAGE_COLUMNS: Final[tuple[str, ...]] = (*RAW_COLUMNS, SUBJECT_ID, READING_INDEX)

#: Activity ids and the dataset README's own names for them.
ACTIVITY_NAMES: Final[dict[int, str]] = {
    0: "Null class",
    1: "Standing still",
    2: "Sitting and relaxing",
    3: "Lying down",
    4: "Walking",
    5: "Climbing stairs",
    6: "Waist bends forward",
    7: "Frontal elevation of arms",
    8: "Knees bending (crouching)",
    9: "Cycling",
    10: "Jogging",
    11: "Running",
    12: "Jump front & back",
}
MIN_ACTIVITY_ID: Final = min(ACTIVITY_NAMES)
MAX_ACTIVITY_ID: Final = max(ACTIVITY_NAMES)

#: Sampling: 50 Hz, so consecutive lines are 20 ms apart.
READING_RATE_HZ: Final = 50
READING_PERIOD_MICROS: Final = 1_000_000 // READING_RATE_HZ

#: Final table columns (the Glue Data Catalog table ``mhealth_db.mhealth``), in order,
#: with their Hive/Athena types. ``user_id`` is the partition key.
USER_ID: Final = "user_id"
FINAL_DATA_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("activity", "string"),
    ("timestamp", "timestamp"),
    ("sensor1", "double"),
    ("sensor2", "double"),
    ("sensor3", "double"),
)
FINAL_PARTITION_COLUMNS: Final[tuple[tuple[str, str], ...]] = ((USER_ID, "string"),)

#: Which stage column each final sensor column comes from: the chest accelerometer X, Y, Z.
SENSOR_SOURCES: Final[dict[str, str]] = {
    "sensor1": "chest_acc_x",
    "sensor2": "chest_acc_y",
    "sensor3": "chest_acc_z",
}

#: Raw file names: ``mHealth_subject<N>.log``.
LOG_NAME_PATTERN: Final = re.compile(r"^mHealth_subject(?P<subject>[1-9][0-9]*)\.log$")


class InvalidLogName(ValueError):
    """A raw file whose name is not ``mHealth_subject<N>.log``."""


def subject_id_from_name(file_name: str) -> int:
    """The subject number in a raw file name such as ``mHealth_subject3.log`` (no directories)."""
    match = LOG_NAME_PATTERN.match(file_name)
    if match is None:
        raise InvalidLogName(
            f"{file_name!r} is not a MHEALTH log name: expected mHealth_subject<N>.log "
            "with N a positive whole number"
        )
    return int(match["subject"])
