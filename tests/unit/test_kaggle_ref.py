"""Kaggle dataset references: the one rule the settings, the download step and the stand-in use.

Kaggle's dataset URLs are ``https://www.kaggle.com/datasets/<owner>/<slug>``; this project's is
``nirmalsankalana/mhealth-dataset-data-set``.
"""

from __future__ import annotations

import pytest

from mhealth.core.kaggle_ref import is_part, split_dataset_ref


def test_the_projects_dataset_splits_into_owner_and_slug() -> None:
    assert split_dataset_ref("nirmalsankalana/mhealth-dataset-data-set") == (
        "nirmalsankalana",
        "mhealth-dataset-data-set",
    )


@pytest.mark.parametrize(
    "reference",
    ["", "owner", "owner/", "/slug", "a/b/c", "../etc/passwd", "owner/.hidden", "own er/slug"],
)
def test_malformed_references_are_refused_with_the_reference_named(reference: str) -> None:
    with pytest.raises(ValueError, match="owner/slug") as raised:
        split_dataset_ref(reference)
    assert repr(reference) in str(raised.value)


def test_parts() -> None:
    assert is_part("UCI_ml.v2-x")
    assert not is_part("-leading")
    assert not is_part("")
