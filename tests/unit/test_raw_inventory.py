"""raw/ sorted into the convert work list and the badly named files, and the UCI download
(the real code path, over HTTP against the local stand-in's UCI route)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mhealth.convert.mirror import BadRawName, RawListing, record_body, sort_raw_listing
from mhealth.core.layout import raw_name_record_key
from mhealth.download.archive import InvalidDatasetArchiveError, find_log_members
from mhealth.download.kaggle import RetryPolicy, TimeBudget
from mhealth.download.uci import UCI_DATASET_PATH, UciDownloadError, download_uci_zip
from mhealth.local.kaggle_standin import KaggleStandin, uci_archive_path
from mhealth.settings import DownloadSettings, SettingsError

FAST_RETRY = RetryPolicy(max_attempts=2, base_delay_seconds=0.01)


def _listing(key: str, size: int = 10) -> RawListing:
    return RawListing(key=key, size=size, etag='"abc"', last_modified="2026-01-01T00:00:00+00:00")


def test_work_list_is_every_subject_log_sorted_by_number() -> None:
    keys = ["raw/mHealth_subject10.log", "raw/mHealth_subject2.log", "raw/mHealth_subject11.log"]
    inventory = sort_raw_listing(_listing(key) for key in keys)

    assert inventory.log_keys == [
        "raw/mHealth_subject2.log",
        "raw/mHealth_subject10.log",
        "raw/mHealth_subject11.log",
    ]
    assert inventory.bad == ()


@pytest.mark.parametrize(
    ("key", "reason_part"),
    [
        ("raw/notes.txt", "expected mHealth_subject<N>.log"),
        ("raw/mHealth_subject0.log", "expected mHealth_subject<N>.log"),
        ("raw/mHealth_subject01.log", "expected mHealth_subject<N>.log"),
        ("raw/mhealth_subject3.log", "expected mHealth_subject<N>.log"),
        ("raw/mHealth_subject3.log.gz", "expected mHealth_subject<N>.log"),
        ("raw/extra/mHealth_subject3.log", "sits in a folder under raw/"),
    ],
)
def test_a_name_without_subject_id_is_reported_with_its_reason(key: str, reason_part: str) -> None:
    inventory = sort_raw_listing([_listing("raw/mHealth_subject1.log"), _listing(key)])

    assert inventory.log_keys == ["raw/mHealth_subject1.log"]
    assert [(bad.listing.key, reason_part in bad.reason) for bad in inventory.bad] == [(key, True)]


def test_folder_markers_are_not_files() -> None:
    inventory = sort_raw_listing([_listing("raw/", 0), _listing("raw/old/", 0)])
    assert inventory.log_keys == [] and inventory.bad == ()


def test_quarantine_record_names_the_file_and_the_reason() -> None:
    bad = BadRawName(_listing("raw/more/x.csv", 42), "because")

    assert raw_name_record_key("raw/more/x.csv") == "quarantine/raw-names/more/x.csv.json"
    assert json.loads(record_body(bad)) == {
        "key": "raw/more/x.csv",
        "size": 42,
        "etag": '"abc"',
        "last_modified": "2026-01-01T00:00:00+00:00",
        "reason": "because",
    }


# ------------------------------------------------------------------------------ settings


def test_download_source_defaults_to_kaggle_and_refuses_unknown_values() -> None:
    base = {"DATA_BUCKET": "b", "KAGGLE_SECRET_NAME": "s"}
    assert DownloadSettings.from_env(base).download_source == "kaggle"
    assert DownloadSettings.from_env({**base, "DOWNLOAD_SOURCE": "uci"}).uci_base_url == (
        "https://archive.ics.uci.edu"
    )
    with pytest.raises(SettingsError, match="DOWNLOAD_SOURCE='zenodo' is not one of kaggle"):
        DownloadSettings.from_env({**base, "DOWNLOAD_SOURCE": "zenodo"})
    with pytest.raises(SettingsError, match="UCI_BASE_URL='ftp://x' is not an http"):
        DownloadSettings.from_env({**base, "UCI_BASE_URL": "ftp://x"})


# ------------------------------------------------------------------------------ UCI download


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


LOG = ("1.0\t" * 23 + "0\n").encode()
PUBLISHER_ZIP = _zip(
    {
        "MHEALTHDATASET/README.txt": "mHealth dataset".encode("latin-1"),
        "MHEALTHDATASET/mHealth_subject1.log": LOG,
        "MHEALTHDATASET/mHealth_subject2.log": LOG,
    }
)


@pytest.fixture
def uci(tmp_path: Path) -> Iterator[tuple[KaggleStandin, Path]]:
    datasets = tmp_path / "datasets"
    with KaggleStandin(username="u", key="k", datasets_dir=datasets) as standin:
        archive = uci_archive_path(datasets, UCI_DATASET_PATH)
        assert archive is not None
        archive.parent.mkdir(parents=True)
        yield standin, archive


def test_uci_archive_is_fetched_without_credentials(
    uci: tuple[KaggleStandin, Path], tmp_path: Path
) -> None:
    standin, archive = uci
    archive.write_bytes(PUBLISHER_ZIP)

    path = download_uci_zip(tmp_path / "work", base_url=standin.url, retry=FAST_RETRY)

    assert path.read_bytes() == PUBLISHER_ZIP
    with zipfile.ZipFile(path) as opened:
        assert [m.log_name for m in find_log_members(opened)] == [
            "mHealth_subject1.log",
            "mHealth_subject2.log",
        ]


def test_logs_wrapped_in_one_inner_zip_are_unwrapped(
    uci: tuple[KaggleStandin, Path], tmp_path: Path
) -> None:
    standin, archive = uci
    archive.write_bytes(_zip({"mhealth+dataset/MHEALTHDATASET.zip": PUBLISHER_ZIP}))

    path = download_uci_zip(tmp_path / "work", base_url=standin.url, retry=FAST_RETRY)

    assert path.read_bytes() == PUBLISHER_ZIP
    assert [p.name for p in (tmp_path / "work").iterdir()] == [path.name]


def test_an_archive_without_logs_is_refused(
    uci: tuple[KaggleStandin, Path], tmp_path: Path
) -> None:
    standin, archive = uci
    archive.write_bytes(_zip({"a.zip": b"x", "b.zip": b"y"}))

    with pytest.raises(InvalidDatasetArchiveError, match="2 inner zip files"):
        download_uci_zip(tmp_path / "work", base_url=standin.url, retry=FAST_RETRY)


def test_a_missing_archive_fails_at_once_and_leaves_nothing(
    uci: tuple[KaggleStandin, Path], tmp_path: Path
) -> None:
    standin, _ = uci  # no archive published: the stand-in answers 404

    with pytest.raises(UciDownloadError, match="answered HTTP 404"):
        download_uci_zip(
            tmp_path / "work",
            base_url=standin.url,
            retry=FAST_RETRY,
            budget=TimeBudget(request_timeout_seconds=5),
        )
    assert list((tmp_path / "work").iterdir()) == []


# ------------------------------------------------------------------------------ payload size

#: Step Functions' limit on a state's input or output: 262,144 bytes of UTF-8 JSON
#: (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StateEnteredEventDetails.html,
#: "Maximum length of 262144"; https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html).
STATE_LIMIT_BYTES = 262_144


def _state_after_convert(logs: int) -> int:
    """Bytes of the state the Transform step receives, for ``logs`` raw logs, with long
    values everywhere (six-digit row counts, 50 listed strays and removed keys)."""
    keys = [f"raw/mHealth_subject{n}.log" for n in range(1, logs + 1)]
    per_file = [
        {
            "files": [
                {
                    "raw_key": key,
                    "stage_key": key.replace("raw/", "stage/").replace(".log", ".parquet"),
                    "quarantine_key": key.replace("raw/", "quarantine/").replace(
                        ".log", ".quarantine.jsonl"
                    ),
                    "rows_in": 161_280,
                    "rows_written": 161_279,
                    "rows_quarantined": 1,
                    "converted": True,
                }
            ],
            "rows_in": 161_280,
            "rows_written": 161_279,
            "rows_quarantined": 1,
            "converted": 1,
            "unchanged": 0,
        }
        for key in keys
    ]
    state = {
        "download": {
            "bucket": "mhealth-pipeline-prod-databucket-0123456789abc",
            "raw_keys": keys[:10],
            "uploaded": 10,
            "unchanged": 0,
            "source": "kaggle",
        },
        "mirror": {
            "raw_keys": keys,
            "quarantined": 50,
            "quarantine_records": [
                f"quarantine/raw-names/a-long-stray-name-{i}.csv.json" for i in range(50)
            ],
            "removed": 50,
            "removed_keys": [f"stage/mHealth_subject{1000 + i}.parquet" for i in range(50)],
        },
        "convert": per_file,
    }
    return len(json.dumps(state, separators=(",", ":")).encode("utf-8"))


def test_state_stays_under_the_step_functions_limit_for_hundreds_of_logs() -> None:
    # README ("Bring your own recordings") states the bound: about 700 logs per run.
    assert _state_after_convert(600) < STATE_LIMIT_BYTES
    assert _state_after_convert(750) > STATE_LIMIT_BYTES
