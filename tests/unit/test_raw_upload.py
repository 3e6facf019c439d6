"""The dataset zip is checked before anything is uploaded: layout, unsafe members, corruption."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from mhealth.download.archive import (
    InvalidDatasetArchiveError,
    escapes_target_dir,
    find_log_members,
    open_dataset_zip,
)

LINE = "\t".join(["-9.8184"] * 23 + ["0"]) + "\n"


def _zip(members: dict[str, str], *, compression: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return zipfile.ZipFile(io.BytesIO(buffer.getvalue()))


def _kaggle_layout(subjects: range = range(1, 11)) -> dict[str, str]:
    members = {f"MHEALTHDATASET/mHealth_subject{n}.log": LINE * n for n in subjects}
    members["MHEALTHDATASET/README.txt"] = "MHEALTH dataset"
    return members


def test_kaggle_layout_gives_every_log_sorted_by_subject_number() -> None:
    members = find_log_members(_zip(_kaggle_layout()))
    assert [m.subject_id for m in members] == list(range(1, 11))
    assert members[9].member_name == "MHEALTHDATASET/mHealth_subject10.log"
    assert members[9].log_name == "mHealth_subject10.log"
    assert members[2].size == len(LINE) * 3


def test_logs_in_other_folders_count_and_other_files_are_ignored() -> None:
    members = find_log_members(
        _zip({"mHealth_subject2.log": LINE, "a/b/mHealth_subject1.log": LINE, "notes.log": "x"})
    )
    assert [(m.subject_id, m.member_name) for m in members] == [
        (1, "a/b/mHealth_subject1.log"),
        (2, "mHealth_subject2.log"),
    ]


@pytest.mark.parametrize(
    "name",
    [
        "../mHealth_subject1.log",
        "MHEALTHDATASET/../../mHealth_subject1.log",
        "/etc/mHealth_subject1.log",
        "..\\..\\evil.txt",
        "C:/temp/mHealth_subject1.log",
        "MHEALTHDATASET/../../../tmp/README.txt",
    ],
)
def test_a_member_escaping_the_target_directory_rejects_the_archive(name: str) -> None:
    assert escapes_target_dir(name)
    with pytest.raises(InvalidDatasetArchiveError, match="escapes the target directory"):
        find_log_members(_zip({**_kaggle_layout(), name: LINE}))


def test_names_that_merely_contain_dots_are_fine() -> None:
    assert not escapes_target_dir("MHEALTHDATASET/v1..2/mHealth_subject1.log")
    assert not escapes_target_dir("./MHEALTHDATASET/mHealth_subject1.log")


def test_a_symlink_member_rejects_the_archive() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("MHEALTHDATASET/mHealth_subject1.log")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(InvalidDatasetArchiveError, match="symbolic link"):
        find_log_members(zipfile.ZipFile(io.BytesIO(buffer.getvalue())))


def test_the_same_subject_twice_rejects_the_archive() -> None:
    with pytest.raises(InvalidDatasetArchiveError, match="subject 1 appears twice"):
        find_log_members(_zip({"a/mHealth_subject1.log": LINE, "b/mHealth_subject1.log": LINE}))


def test_an_archive_without_logs_is_rejected() -> None:
    with pytest.raises(InvalidDatasetArchiveError, match=r"holds no mHealth_subject<N>\.log"):
        find_log_members(_zip({"MHEALTHDATASET/README.txt": "x", "data.csv": "1,2"}))


@pytest.mark.parametrize("content", [b"", b"<html>Rate limited</html>", b"PK\x03\x04broken"])
def test_a_file_that_is_not_a_zip_is_rejected(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "mhealth-dataset-data-set.zip"
    path.write_bytes(content)
    with pytest.raises(InvalidDatasetArchiveError, match="not a readable zip archive"):
        open_dataset_zip(path)


def test_a_truncated_zip_is_rejected(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in _kaggle_layout().items():
            archive.writestr(name, text)
    path = tmp_path / "cut.zip"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(InvalidDatasetArchiveError):
        open_dataset_zip(path)
