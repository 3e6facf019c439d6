"""Runtime settings of the Lambda steps, parsed once from the environment at cold start."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Self, TypeVar

from mhealth.core.kaggle_ref import split_dataset_ref

#: The Kaggle copy of MHEALTH (UCI dataset 319, Banos et al. 2014) with the raw ``.log`` files.
DEFAULT_KAGGLE_DATASET: Final = "nirmalsankalana/mhealth-dataset-data-set"

#: Where the download step takes the dataset from: Kaggle (the default), the publisher's
#: archive at the UCI repository (no credentials), or nowhere (the run uses what is in raw/).
DOWNLOAD_SOURCES: Final = ("kaggle", "uci", "none")
DEFAULT_UCI_BASE_URL: Final = "https://archive.ics.uci.edu"

# A TypeVar, not PEP 695 syntax: the whole package ships to Glue 5.0, which runs Python 3.11.
N = TypeVar("N", int, float)


class SettingsError(ValueError):
    """The environment lacks required settings or holds malformed ones; lists every problem."""

    def __init__(self, runtime: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{runtime} settings are incomplete or invalid: " + "; ".join(problems))


class _Reader:
    """Collects every missing or malformed variable instead of stopping at the first one."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self.missing: list[str] = []
        self.invalid: list[str] = []

    def optional(self, name: str) -> str | None:
        value = self._environ.get(name, "").strip()
        return value or None

    def required(self, name: str) -> str:
        value = self.optional(name)
        if value is None:
            self.missing.append(name)
            return ""
        return value

    def number(self, name: str, kind: type[N], default: N, minimum: N) -> N:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = kind(raw)
        except ValueError:
            self.invalid.append(f"{name}={raw!r} is not a {kind.__name__}")
            return default
        if value < minimum:
            self.invalid.append(f"{name}={raw!r} must be at least {minimum}")
            return default
        return value

    def raise_if_problems(self, runtime: str) -> None:
        problems = [f"missing {name}" for name in self.missing] + self.invalid
        if problems:
            raise SettingsError(runtime, problems)


def _scratch_dir(reader: _Reader) -> Path:
    # tempfile honours TMPDIR, which the local Lambda executor sets per environment; /tmp on AWS.
    return Path(reader.optional("SCRATCH_DIR") or tempfile.gettempdir())


@dataclass(frozen=True)
class DownloadSettings:
    """What the download step needs: where to put the raw files and how to reach Kaggle.

    Environment: ``DATA_BUCKET`` and ``KAGGLE_SECRET_NAME`` (required); ``KAGGLE_DATASET``
    (``owner/slug``), ``KAGGLE_DATASET_VERSION``, ``KAGGLE_CONFIG_DIR``, ``KAGGLE_API_BASE_URL``
    (set by the local stage only), ``SCRATCH_DIR``, and the tuning knobs ``KAGGLE_MAX_ATTEMPTS``,
    ``KAGGLE_RETRY_BASE_DELAY_SECONDS`` and ``KAGGLE_REQUEST_TIMEOUT_SECONDS`` (which also
    bound the UCI download); ``DOWNLOAD_SOURCE`` (``kaggle``, ``uci`` or ``none``) and
    ``UCI_BASE_URL``.
    """

    data_bucket: str
    kaggle_secret_name: str
    kaggle_dataset: str = DEFAULT_KAGGLE_DATASET
    kaggle_dataset_version: int | None = None
    #: Where the kaggle client keeps its config; it must be writable (``/tmp/kaggle`` on AWS).
    kaggle_config_dir: Path | None = None
    #: Base URL of a Kaggle stand-in; ``None`` means the real ``https://api.kaggle.com``.
    kaggle_api_base_url: str | None = None
    scratch_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    max_attempts: int = 3
    retry_base_delay_seconds: float = 2.0
    request_timeout_seconds: float = 60.0
    #: ``DOWNLOAD_SOURCE``: one of :data:`DOWNLOAD_SOURCES`.
    download_source: str = "kaggle"
    #: ``UCI_BASE_URL``: the UCI repository, or a stand-in for it (the local stage).
    uci_base_url: str = DEFAULT_UCI_BASE_URL

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        reader = _Reader(environ)
        bucket = reader.required("DATA_BUCKET")
        source, uci_base_url = _source_settings(reader)
        secret_name = reader.required("KAGGLE_SECRET_NAME")
        dataset = reader.optional("KAGGLE_DATASET") or DEFAULT_KAGGLE_DATASET
        try:
            split_dataset_ref(dataset)
        except ValueError:
            reader.invalid.append(f"KAGGLE_DATASET={dataset!r} is not of the form owner/slug")
        version_text = reader.optional("KAGGLE_DATASET_VERSION")
        version = reader.number("KAGGLE_DATASET_VERSION", int, 0, 1) if version_text else None
        base_url = reader.optional("KAGGLE_API_BASE_URL")
        if base_url is not None:
            if not base_url.startswith(("http://", "https://")):
                reader.invalid.append(f"KAGGLE_API_BASE_URL={base_url!r} is not an http(s) URL")
            base_url = base_url.rstrip("/")
        config_dir = reader.optional("KAGGLE_CONFIG_DIR")
        scratch = _scratch_dir(reader)
        settings = cls(
            data_bucket=bucket,
            kaggle_secret_name=secret_name,
            kaggle_dataset=dataset,
            kaggle_dataset_version=version,
            kaggle_config_dir=Path(config_dir) if config_dir else None,
            kaggle_api_base_url=base_url,
            scratch_dir=scratch,
            max_attempts=reader.number("KAGGLE_MAX_ATTEMPTS", int, 3, 1),
            retry_base_delay_seconds=reader.number(
                "KAGGLE_RETRY_BASE_DELAY_SECONDS", float, 2.0, 0.0
            ),
            request_timeout_seconds=reader.number(
                "KAGGLE_REQUEST_TIMEOUT_SECONDS", float, 60.0, 1.0
            ),
            download_source=source,
            uci_base_url=uci_base_url,
        )
        reader.raise_if_problems("Download")
        return settings


def _source_settings(reader: _Reader) -> tuple[str, str]:
    source = (reader.optional("DOWNLOAD_SOURCE") or "kaggle").lower()
    if source not in DOWNLOAD_SOURCES:
        reader.invalid.append(
            f"DOWNLOAD_SOURCE={source!r} is not one of {', '.join(DOWNLOAD_SOURCES)}"
        )
    base_url = reader.optional("UCI_BASE_URL") or DEFAULT_UCI_BASE_URL
    if not base_url.startswith(("http://", "https://")):
        reader.invalid.append(f"UCI_BASE_URL={base_url!r} is not an http(s) URL")
    return source, base_url.rstrip("/")


@dataclass(frozen=True)
class ConvertSettings:
    """What the convert step needs. Environment: ``DATA_BUCKET`` (required), ``SCRATCH_DIR``."""

    data_bucket: str
    scratch_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        reader = _Reader(environ)
        settings = cls(data_bucket=reader.required("DATA_BUCKET"), scratch_dir=_scratch_dir(reader))
        reader.raise_if_problems("Convert")
        return settings
