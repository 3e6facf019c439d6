"""The Kaggle stand-in speaks the download protocol the kaggle client expects, and the real
client (through mhealth.download.kaggle) retries, times out and authenticates against it."""

from __future__ import annotations

import base64
import io
import json
import os
import time
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import requests

from mhealth.download.kaggle import (
    KaggleApiToken,
    KaggleAuthError,
    KaggleCredentials,
    KaggleDatasetNotFoundError,
    KaggleDeadlineError,
    KaggleDownloadError,
    RetryPolicy,
    TimeBudget,
    download_dataset_zip,
)
from mhealth.local.kaggle_standin import (
    DOWNLOAD_PATH,
    INTROSPECT_PATH,
    KaggleStandin,
    publish_dataset,
)

DATASET = "nirmalsankalana/mhealth-dataset-data-set"
USER, KEY = "local-kaggle-user", "local-kaggle-key"
TOKEN = "KGAT_unit-test-token"
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay_seconds=0.01)


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("MHEALTHDATASET/mHealth_subject1.log", "1.0\t" * 23 + "0\n")
    return buffer.getvalue()


ZIP = _zip_bytes()


def _basic(user: str, key: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{key}".encode()).decode()


def _post(standin: KaggleStandin, auth: str | None, body: object) -> requests.Response:
    headers = {"Authorization": auth} if auth else {}
    return requests.post(standin.url + DOWNLOAD_PATH, json=body, headers=headers, timeout=10)


@pytest.fixture
def standin() -> Iterator[KaggleStandin]:
    with KaggleStandin(username=USER, key=KEY, tokens=[TOKEN]) as server:
        server.serve_bytes(DATASET, ZIP)
        yield server


@pytest.fixture(scope="module")
def kaggle_config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The client fixes its config dir at first import, so one directory serves the module.
    return tmp_path_factory.mktemp("kaggle-config")


def _download(standin: KaggleStandin, dest: Path, config_dir: Path, **kwargs: object) -> Path:
    options: dict[str, object] = {"retry": FAST_RETRY, "api_base_url": standin.url}
    options.update(kwargs)
    credentials = options.pop("credentials", KaggleCredentials(USER, KEY))
    return download_dataset_zip(
        DATASET,
        credentials,  # type: ignore[arg-type]
        dest,
        config_dir=config_dir,
        **options,  # type: ignore[arg-type]
    )


# -- the wire protocol ---------------------------------------------------------------------


def test_health_answers_200(standin: KaggleStandin) -> None:
    response = requests.get(standin.url + "/health", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_download_answers_the_zip_with_the_headers_the_client_reads(
    standin: KaggleStandin,
) -> None:
    response = _post(
        standin,
        _basic(USER, KEY),
        {"ownerSlug": "nirmalsankalana", "datasetSlug": "mhealth-dataset-data-set"},
    )
    assert response.status_code == 200
    assert response.content == ZIP
    assert response.headers["Content-Type"] == "application/zip"
    assert int(response.headers["Content-Length"]) == len(ZIP)
    # The exact format kaggle's download_needed() parses.
    datetime.strptime(response.headers["Last-Modified"], "%a, %d %b %Y %H:%M:%S %Z")


@pytest.mark.parametrize(
    "auth", [None, _basic(USER, "wrong"), _basic("someone", KEY), "Bearer token", "Basic !!"]
)
def test_download_refuses_wrong_credentials_with_kaggle_json_error(
    standin: KaggleStandin, auth: str | None
) -> None:
    response = _post(
        standin, auth, {"ownerSlug": "nirmalsankalana", "datasetSlug": "mhealth-dataset-data-set"}
    )
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["code"] == 401


def test_unknown_dataset_is_404(standin: KaggleStandin) -> None:
    response = _post(standin, _basic(USER, KEY), {"ownerSlug": "x", "datasetSlug": "y"})
    assert response.status_code == 404
    assert response.json() == {"code": 404, "message": "Dataset x/y not found"}


def test_datasets_dir_layout_is_served(tmp_path: Path) -> None:
    source = tmp_path / "built.zip"
    source.write_bytes(b"PK-bytes")
    assert publish_dataset(tmp_path, "owner/data", source) == tmp_path / "owner" / "data.zip"
    with KaggleStandin(username=USER, key=KEY, datasets_dir=tmp_path) as server:
        response = _post(server, _basic(USER, KEY), {"ownerSlug": "owner", "datasetSlug": "data"})
        traversal = _post(server, _basic(USER, KEY), {"ownerSlug": "..", "datasetSlug": "x"})
    assert response.content == b"PK-bytes"
    assert traversal.status_code == 404


def test_injected_failures_come_first_then_normal_answers(standin: KaggleStandin) -> None:
    standin.fail_next(2, status=503)
    body = {"ownerSlug": "nirmalsankalana", "datasetSlug": "mhealth-dataset-data-set"}
    statuses = [_post(standin, _basic(USER, KEY), body).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert [r.status for r in standin.requests] == [503, 503, 200]


def test_version_number_is_recorded(standin: KaggleStandin) -> None:
    body = {
        "ownerSlug": "nirmalsankalana",
        "datasetSlug": "mhealth-dataset-data-set",
        "datasetVersionNumber": 3,
    }
    assert _post(standin, _basic(USER, KEY), body).status_code == 200
    assert standin.requests[-1].version_number == 3


# -- the real kaggle client against it ----------------------------------------------------


def test_real_client_downloads_the_zip(
    standin: KaggleStandin, tmp_path: Path, kaggle_config_dir: Path
) -> None:
    path = _download(standin, tmp_path, kaggle_config_dir, version=2)
    assert path == tmp_path / "mhealth-dataset-data-set.zip"
    assert path.read_bytes() == ZIP
    [request] = standin.requests
    assert (request.owner_slug, request.dataset_slug, request.version_number) == (
        "nirmalsankalana",
        "mhealth-dataset-data-set",
        2,
    )
    assert request.username == USER


def test_client_leaves_no_trace_in_the_process(
    standin: KaggleStandin, tmp_path: Path, kaggle_config_dir: Path
) -> None:
    from kagglesdk import kaggle_env

    _download(standin, tmp_path, kaggle_config_dir)
    assert "KAGGLE_USERNAME" not in os.environ
    assert "KAGGLE_KEY" not in os.environ
    assert kaggle_env._env_to_endpoint[kaggle_env.KaggleEnv.PROD] == "https://api.kaggle.com"


def test_wrong_key_is_an_auth_error_without_retries(
    standin: KaggleStandin, tmp_path: Path, kaggle_config_dir: Path
) -> None:
    with pytest.raises(KaggleAuthError, match="rejected the legacy API key of user"):
        _download(standin, tmp_path, kaggle_config_dir, credentials=KaggleCredentials(USER, "nope"))
    assert [r.status for r in standin.requests] == [401]
    assert list(tmp_path.iterdir()) == []


def test_empty_credentials_are_refused_before_any_request() -> None:
    with pytest.raises(KaggleAuthError, match="non-empty username and key"):
        KaggleCredentials(USER, " ")


def test_transient_500s_are_retried_until_success(
    standin: KaggleStandin, tmp_path: Path, kaggle_config_dir: Path
) -> None:
    standin.fail_next(2)
    sleeps: list[float] = []
    path = _download(standin, tmp_path, kaggle_config_dir, sleep=sleeps.append)
    assert path.read_bytes() == ZIP
    assert [r.status for r in standin.requests] == [500, 500, 200]
    assert len(sleeps) == 2
    assert sleeps[1] > sleeps[0]  # exponential backoff


def test_retries_are_bounded(
    standin: KaggleStandin, tmp_path: Path, kaggle_config_dir: Path
) -> None:
    standin.fail_next(10)
    with pytest.raises(KaggleDownloadError, match="failed 3 times"):
        _download(standin, tmp_path, kaggle_config_dir)
    assert len(standin.requests) == 3
    assert list(tmp_path.iterdir()) == []


def test_missing_dataset_is_not_retried(
    standin: KaggleStandin, tmp_path: Path, kaggle_config_dir: Path
) -> None:
    with pytest.raises(KaggleDatasetNotFoundError):
        download_dataset_zip(
            "someone/missing",
            KaggleCredentials(USER, KEY),
            tmp_path,
            api_base_url=standin.url,
            config_dir=kaggle_config_dir,
            retry=FAST_RETRY,
        )
    assert len(standin.requests) == 1


def test_a_stalled_answer_times_out_and_is_retried(
    standin: KaggleStandin, tmp_path: Path, kaggle_config_dir: Path
) -> None:
    standin.stall_next(1, seconds=30)
    started = time.monotonic()
    path = _download(standin, tmp_path, kaggle_config_dir, budget=TimeBudget(1.0))
    assert path.read_bytes() == ZIP
    assert time.monotonic() - started < 10
    assert standin.received == 2
    assert [r.status for r in standin.requests] == [200]  # the stalled one is still held


def test_the_deadline_bounds_the_whole_download(
    standin: KaggleStandin, tmp_path: Path, kaggle_config_dir: Path
) -> None:
    standin.stall_next(5, seconds=30)
    started = time.monotonic()
    with pytest.raises(KaggleDeadlineError):
        _download(
            standin,
            tmp_path,
            kaggle_config_dir,
            retry=RetryPolicy(max_attempts=10, base_delay_seconds=0.01),
            budget=TimeBudget(60.0, deadline=started + 1.5),
        )
    assert time.monotonic() - started < 5
    assert list(tmp_path.iterdir()) == []


def test_standin_error_body_matches_kaggle_shape(standin: KaggleStandin) -> None:
    standin.fail_next(1)
    body = {"ownerSlug": "nirmalsankalana", "datasetSlug": "mhealth-dataset-data-set"}
    response = _post(standin, _basic(USER, KEY), body)
    assert json.loads(response.content) == {"code": 500, "message": "injected failure"}


def test_command_line_server_serves_a_datasets_dir(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    (tmp_path / "nirmalsankalana").mkdir()
    (tmp_path / "nirmalsankalana" / "mhealth-dataset-data-set.zip").write_bytes(ZIP)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "mhealth.local.kaggle_standin", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--datasets-dir", str(tmp_path)]
    command += ["--username", USER, "--key", KEY]
    process = subprocess.Popen(command, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(url + "/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the stand-in did not become healthy in time"
            time.sleep(0.05)
        response = requests.post(
            url + DOWNLOAD_PATH,
            json={"ownerSlug": "nirmalsankalana", "datasetSlug": "mhealth-dataset-data-set"},
            headers={"Authorization": _basic(USER, KEY)},
            timeout=10,
        )
        assert response.content == ZIP
    finally:
        process.terminate()
        process.wait(timeout=10)


# -- API tokens (KAGGLE_API_TOKEN) -------------------------------------------------------------


def _introspect(standin: KaggleStandin, bearer: str | None, token: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return requests.post(
        standin.url + INTROSPECT_PATH, json={"token": token}, headers=headers, timeout=10
    )


def test_introspection_answers_active_inactive_or_401(standin: KaggleStandin) -> None:
    """RFC 7662's shape (``active``, ``username``), as kagglesdk's IntrospectTokenResponse reads
    it; a bearer the server never issued is no caller at all."""
    assert _introspect(standin, TOKEN, TOKEN).json()["active"] is True
    assert _introspect(standin, TOKEN, TOKEN).json()["username"] == USER
    assert _introspect(standin, None, TOKEN).status_code == 401
    assert _introspect(standin, "KGAT_never-issued", "KGAT_never-issued").status_code == 401
    standin.expire_token(TOKEN)
    expired = _introspect(standin, TOKEN, TOKEN)
    assert (expired.status_code, expired.json()) == (200, {"active": False})


def test_download_accepts_an_issued_bearer_token_only(standin: KaggleStandin) -> None:
    body = {"ownerSlug": "nirmalsankalana", "datasetSlug": "mhealth-dataset-data-set"}
    assert _post(standin, f"Bearer {TOKEN}", body).content == ZIP
    assert _post(standin, "Bearer KGAT_never-issued", body).status_code == 401
    standin.expire_token(TOKEN)
    assert _post(standin, f"Bearer {TOKEN}", body).status_code == 401
    assert [(r.scheme, r.status) for r in standin.requests] == [
        ("bearer", 200),
        ("bearer", 401),
        ("bearer", 401),
    ]


def test_a_token_is_introspected_then_sent_as_bearer_by_the_real_client(
    standin: KaggleStandin, tmp_path: Path, kaggle_config_dir: Path
) -> None:
    path = _download(standin, tmp_path, kaggle_config_dir, credentials=KaggleApiToken(TOKEN))
    assert path.read_bytes() == ZIP
    assert standin.introspections == [(True, USER)]
    assert [(r.scheme, r.username, r.status) for r in standin.requests] == [("bearer", USER, 200)]
    assert "KAGGLE_API_TOKEN" not in os.environ


def test_the_legacy_pair_is_sent_as_basic_whatever_token_the_machine_has(
    standin: KaggleStandin,
    tmp_path: Path,
    kaggle_config_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """kagglesdk prefers KAGGLE_API_TOKEN and ~/.kaggle/access_token to a username and key;
    the secret's legacy pair must win over both (and trigger no token check)."""
    home = tmp_path / "home"
    (home / ".kaggle").mkdir(parents=True)
    (home / ".kaggle" / "access_token").write_text(TOKEN, encoding="utf-8")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KAGGLE_API_TOKEN", TOKEN)
    path = _download(standin, tmp_path / "dest", kaggle_config_dir)
    assert path.read_bytes() == ZIP
    assert standin.introspections == []
    assert [(r.scheme, r.username) for r in standin.requests] == [("basic", USER)]
    assert os.environ["HOME"] == str(home)  # restored
    assert os.environ["KAGGLE_API_TOKEN"] == TOKEN


@pytest.mark.parametrize("expired", [True, False], ids=["expired", "never-issued"])
def test_a_bad_token_is_an_auth_error_at_once_without_retries(
    standin: KaggleStandin, tmp_path: Path, kaggle_config_dir: Path, *, expired: bool
) -> None:
    token = TOKEN if expired else "KGAT_never-issued"
    if expired:
        standin.expire_token(TOKEN)
    sleeps: list[float] = []
    with pytest.raises(KaggleAuthError, match="API token"):
        _download(
            standin,
            tmp_path,
            kaggle_config_dir,
            credentials=KaggleApiToken(token),
            sleep=sleeps.append,
        )
    assert sleeps == []
    assert standin.requests == []  # never got as far as the download
    assert standin.introspections == ([(False, None)] if expired else [])
    assert list(tmp_path.iterdir()) == []
