"""What the MHEALTH dataset's publishers say, written out by hand for the tests to compare with.

Sources: the dataset's own README.txt (activity labels) and its UCI Machine Learning Repository
page (dataset 319, Banos et al. 2014: row counts). Never imported from ``mhealth``, so a test
checks the code against the source, not against itself.
"""

from __future__ import annotations

from typing import Final

#: Activity labels as the dataset's README names them (L0..L12).
ACTIVITY_LABELS: Final[dict[int, str]] = {
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

TOTAL_ROWS: Final = 1_215_745
ROWS_PER_SUBJECT: Final[dict[int, int]] = {
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
ROWS_PER_LABEL: Final[dict[int, int]] = {
    0: 872_550,
    **dict.fromkeys((1, 2, 3, 4, 5, 9, 10, 11), 30_720),
    6: 28_315,
    7: 29_441,
    8: 29_337,
    12: 10_342,
}
ROWS_PER_LABEL_SUBJECT_10: Final[dict[int, int]] = {
    **dict.fromkeys((1, 2, 3, 4, 5, 9, 10, 11), 3_072),
    0: 64_614,
    6: 2_458,
    7: 2_765,
    8: 2_867,
    12: 1_024,
}
