"""The edge to Kaggle: fetch a dataset zip with the official client, bounded in retries and time.

The ``kaggle`` client (2.2.5, kagglesdk 0.1.38) has traps this module defuses:

- ``import kaggle`` authenticates and creates its config directory at import time, so the
  import happens lazily, after ``KAGGLE_CONFIG_DIR`` points at a writable directory.
- ``authenticate()`` reads ``KAGGLE_API_TOKEN`` (an API token from Kaggle's settings page,
  checked over the network with ``security.OAuthService/IntrospectToken``) or
  ``KAGGLE_USERNAME`` / ``KAGGLE_KEY`` (the legacy pair, no network call) from the process
  environment, and also looks for ``~/.kaggle/access_token`` and ``~/.kaggle/kaggle.json``.
  The secret's credentials are exposed only for the duration of that call, with ``HOME``
  pointing at an empty directory so that no file of the machine's user can stand in for them;
  an inactive or expired token makes it fall through to ``exit(1)`` and a token Kaggle does
  not know to an HTTP 401: both become :class:`KaggleAuthError`, never retried.
- Every client it builds later reads ``KAGGLE_API_TOKEN`` and ``~/.kaggle/access_token`` again
  and would prefer them to the legacy pair: the session's auth is set here from the secret's
  credentials (``Bearer`` for a token, ``Basic`` for the pair), whatever the environment holds.
- Its HTTP calls carry no timeout: the session it builds gets an adapter that applies one,
  capped by the caller's deadline.
- Its own file downloader retries five times with sleeps of up to a minute and resumes from
  partial files: it is replaced by one bounded streaming pass; retries happen here, a bounded
  number of times with exponential backoff, on transient failures only (HTTP 429/5xx,
  connection errors, timeouts, truncated bodies).
- There is no base-URL setting: when a base URL is given (the local stage's stand-in),
  kagglesdk's endpoint table is re-pointed while the client is built, and restored after.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Final

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase

from mhealth.core.kaggle_ref import split_dataset_ref

logger = logging.getLogger(__name__)

#: Seconds allowed to open a connection; the read timeout is the request timeout.
CONNECT_TIMEOUT_SECONDS: Final = 10.0
_CHUNK_BYTES: Final = 1024 * 1024
_TRANSIENT_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
_AUTH_STATUSES: Final = frozenset({401, 403})
_CREDENTIAL_VARIABLES: Final = ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "HOME")

# The process environment and kagglesdk's endpoint table are process-wide: one user at a time.
# Re-entrant: authenticating with an access token builds a client while the lock is held.
_ENVIRONMENT_LOCK: Final = threading.RLock()


class KaggleDownloadError(RuntimeError):
    """The dataset could not be downloaded from Kaggle."""

    #: Whether trying again may help (HTTP 429/5xx, connection trouble, a truncated body).
    transient: bool = False


class KaggleAuthError(KaggleDownloadError):
    """Kaggle credentials are missing or were rejected."""


class KaggleDatasetNotFoundError(KaggleDownloadError):
    """Kaggle does not know the dataset (or version) asked for."""


class KaggleDeadlineError(KaggleDownloadError):
    """The download could not finish within the time the caller allowed."""


class IncompleteDownloadError(KaggleDownloadError):
    """The body ended before ``Content-Length`` bytes arrived."""

    transient = True


@dataclass(frozen=True)
class KaggleCredentials:
    """A Kaggle username and legacy API key (the ``kaggle.json`` pair, "Legacy API Credentials")."""

    username: str
    key: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.username.strip() or not self.key.strip():
            raise KaggleAuthError("Kaggle credentials need a non-empty username and key")

    def describe(self) -> str:
        return f"the legacy API key of user {self.username!r}"

    def environment(self) -> dict[str, str]:
        return {"KAGGLE_USERNAME": self.username, "KAGGLE_KEY": self.key}

    def session_auth(self) -> Any:
        return (self.username, self.key)  # requests sends it as Basic


@dataclass(frozen=True)
class KaggleApiToken:
    """A Kaggle API token (``KGAT_…``) from kaggle.com → Settings → API → Generate New Token."""

    token: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.token.strip():
            raise KaggleAuthError("a Kaggle API token must not be empty")

    def describe(self) -> str:
        return "the API token"

    def environment(self) -> dict[str, str]:
        return {"KAGGLE_API_TOKEN": self.token}

    def session_auth(self) -> Any:
        return _BearerAuth(self.token)


#: Either way of authenticating to Kaggle.
KaggleAuth = KaggleCredentials | KaggleApiToken


class _BearerAuth(AuthBase):
    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: ``max_attempts`` tries in all, sleeping ``base * 2**(n-1)`` (+ jitter)."""

    max_attempts: int = 3
    base_delay_seconds: float = 2.0
    max_delay_seconds: float = 30.0

    def delay(self, failed_attempt: int) -> float:
        backoff = self.base_delay_seconds * 2 ** (failed_attempt - 1)
        # Jitter spreads retries from concurrent callers; capped at 10 % of the backoff.
        return float(min(backoff + random.uniform(0, backoff / 10), self.max_delay_seconds))


@dataclass(frozen=True)
class TimeBudget:
    """Per-request timeout, capped by an absolute deadline on the ``time.monotonic()`` clock."""

    request_timeout_seconds: float = 60.0
    deadline: float | None = None

    def remaining(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def check(self, what: str) -> None:
        if self.remaining() <= 0:
            raise KaggleDeadlineError(f"ran out of time while {what}")

    def request_timeout(self) -> tuple[float, float]:
        """``(connect, read)`` timeouts for the next HTTP call."""
        self.check("waiting to call Kaggle")
        read = min(self.request_timeout_seconds, self.remaining())
        return (min(CONNECT_TIMEOUT_SECONDS, read), read)


def download_dataset_zip(
    dataset: str,
    credentials: KaggleAuth,
    dest_dir: Path,
    *,
    version: int | None = None,
    api_base_url: str | None = None,
    config_dir: Path | None = None,
    budget: TimeBudget | None = None,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Download ``owner/slug`` (optionally a version) into ``dest_dir``; returns the zip's path.

    The client names the file ``<dest_dir>/<slug>.zip``. On failure no file is left behind.
    Wrong, expired or revoked credentials raise :class:`KaggleAuthError` at once (no retry).
    """
    budget = budget or TimeBudget()
    retry = retry or RetryPolicy()
    owner, slug = split_dataset_ref(dataset)
    api = _new_api(config_dir, api_base_url, budget, credentials)
    reference = f"{owner}/{slug}" if version is None else f"{owner}/{slug}/{version}"
    zip_path = dest_dir / f"{slug}.zip"
    dest_dir.mkdir(parents=True, exist_ok=True)
    authenticated = False

    for attempt in range(1, retry.max_attempts + 1):
        budget.check(f"downloading {reference}")
        try:
            if not authenticated:
                # A token is checked over the network: that call is retried like the download.
                _authenticate(api, credentials, empty_home=dest_dir)
                authenticated = True
            # force=True: a warm Lambda's leftovers must never stand in for a fresh download.
            # The client prints the dataset URL; keep stdout for structured logs only.
            with contextlib.redirect_stdout(io.StringIO()):
                api.dataset_download_files(reference, path=str(dest_dir), force=True, quiet=True)
        except BaseException as error:
            zip_path.unlink(missing_ok=True)
            failure = _classify(error, reference, credentials)
            if failure is None or (failure is error and not failure.transient):
                raise
            if not failure.transient:
                raise failure from error
            if attempt == retry.max_attempts:
                raise KaggleDownloadError(
                    f"downloading {reference} failed {attempt} times; last error: {failure}"
                ) from error
            delay = retry.delay(attempt)
            if budget.remaining() <= delay:
                raise KaggleDeadlineError(
                    f"downloading {reference} failed ({failure}) and no time is left to retry"
                ) from error
            logger.warning(
                "Kaggle download failed, retrying",
                extra={
                    "dataset": reference,
                    "attempt": attempt,
                    "delay_s": round(delay, 2),
                    "error": str(failure),
                },
            )
            sleep(delay)
            continue
        if not zip_path.is_file():
            raise KaggleDownloadError(f"the kaggle client saved no {zip_path.name} in {dest_dir}")
        logger.info(
            "downloaded Kaggle dataset",
            extra={"dataset": reference, "attempt": attempt, "bytes": zip_path.stat().st_size},
        )
        return zip_path
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def _classify(
    error: BaseException, reference: str, credentials: KaggleAuth
) -> KaggleDownloadError | None:
    """Map what the client raised onto our errors; ``None`` for errors that are not ours to map."""
    failure: KaggleDownloadError | None = None
    if isinstance(error, KaggleDownloadError):
        failure = error
    elif isinstance(error, requests.HTTPError):
        status = error.response.status_code if error.response is not None else None
        if status in _AUTH_STATUSES:
            failure = KaggleAuthError(
                f"Kaggle rejected {credentials.describe()} (HTTP {status}: {error})"
            )
        elif status == 404:
            failure = KaggleDatasetNotFoundError(
                f"Kaggle has no dataset {reference} (HTTP 404: {error})"
            )
        else:
            failure = KaggleDownloadError(f"Kaggle answered HTTP {status} for {reference}: {error}")
            failure.transient = status in _TRANSIENT_STATUSES
    elif isinstance(error, requests.Timeout):
        failure = _TransientError(f"Kaggle did not answer in time: {error}")
    elif isinstance(error, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        failure = _TransientError(f"connection to Kaggle failed: {error}")
    elif isinstance(error, SystemExit):
        failure = KaggleDownloadError(
            f"the kaggle client exited (status {error.code}) while downloading {reference}"
        )
    return failure


class _TransientError(KaggleDownloadError):
    transient = True


def _authenticate(api: Any, credentials: KaggleAuth, *, empty_home: Path) -> None:
    """Authenticate ``api`` with the secret's credentials, exposing them to the process only
    meanwhile, with ``HOME`` at ``empty_home`` (no ``~/.kaggle`` file can take precedence).

    The legacy pair makes no network call: wrong credentials surface on the download (401). A
    token is introspected: Kaggle answers an inactive token with ``active: false`` (the client
    then finds nothing else and exits) and, for a token it does not know, HTTP 401.
    """
    variables = {**credentials.environment(), "HOME": str(empty_home)}
    with _scoped_environment(variables):
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # its help text names ~/.kaggle
                api.authenticate()
        except SystemExit as error:
            raise KaggleAuthError(
                f"Kaggle did not accept {credentials.describe()}: it is wrong, expired or "
                f"revoked (the kaggle client exited with status {error.code})"
            ) from None


@contextlib.contextmanager
def _scoped_environment(values: dict[str, str]) -> Iterator[None]:
    with _ENVIRONMENT_LOCK:
        saved = {name: os.environ.get(name) for name in _CREDENTIAL_VARIABLES}
        try:
            for name in _CREDENTIAL_VARIABLES:
                os.environ.pop(name, None)
            os.environ.update(values)
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


class _TimeoutAdapter(HTTPAdapter):
    """Gives each request of a session a timeout when its caller set none (kagglesdk never does)."""

    def __init__(self, budget: TimeBudget) -> None:
        super().__init__()
        self._budget = budget

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, timeout: Any = None, **kwargs: Any
    ) -> requests.Response:
        return super().send(request, timeout=timeout or self._budget.request_timeout(), **kwargs)


def _new_api(
    config_dir: Path | None, api_base_url: str | None, budget: TimeBudget, credentials: KaggleAuth
) -> Any:
    """A fresh client instance (never the module-global ``kaggle.api``)."""
    api_class = _bounded_api_class(config_dir)
    return api_class(api_base_url, budget, credentials)


@cache
def _bounded_api_class(config_dir: Path | None) -> type[Any]:
    """Import the client (once, after pointing it at a writable config dir) and subclass it."""
    if config_dir is not None and "KAGGLE_CONFIG_DIR" not in os.environ:
        config_dir.mkdir(parents=True, exist_ok=True)
        # The client reads this at import time only; nothing else works on a read-only home.
        os.environ["KAGGLE_CONFIG_DIR"] = str(config_dir)
    # The package import authenticates against an empty environment and prints a help text
    # when that fails; that text is noise here.
    with contextlib.redirect_stdout(io.StringIO()):
        from kaggle.api.kaggle_api_extended import KaggleApi
    from kagglesdk import kaggle_env

    class BoundedKaggleApi(KaggleApi):  # type: ignore[misc]
        """KaggleApi with an optional base URL, request timeouts, the secret's credentials on
        every request and a bounded downloader."""

        def __init__(
            self, base_url: str | None, budget: TimeBudget, credentials: KaggleAuth
        ) -> None:
            super().__init__()
            self._mhealth_base_url = base_url
            self._mhealth_budget = budget
            self._mhealth_credentials = credentials

        def build_kaggle_client(self) -> Any:
            if self._mhealth_base_url is None:
                client = super().build_kaggle_client()
            else:
                with _ENVIRONMENT_LOCK:
                    table = kaggle_env._env_to_endpoint
                    saved = table[kaggle_env.KaggleEnv.PROD]
                    table[kaggle_env.KaggleEnv.PROD] = self._mhealth_base_url
                    try:
                        client = super().build_kaggle_client()
                    finally:
                        table[kaggle_env.KaggleEnv.PROD] = saved
            http_client = client.http_client()
            if self._mhealth_base_url is not None and (
                http_client._endpoint != self._mhealth_base_url
            ):
                # KAGGLE_API_ENVIRONMENT picked another table entry: never call the wrong host.
                raise KaggleDownloadError(
                    f"the kaggle client did not take the base URL {self._mhealth_base_url} "
                    f"(it uses {http_client._endpoint}); unset KAGGLE_API_ENVIRONMENT"
                )
            http_client._init_session()  # creates the session it will use, once
            session = http_client._session
            # Its own choice reads KAGGLE_API_TOKEN and ~/.kaggle again: the secret decides.
            session.auth = self._mhealth_credentials.session_auth()
            adapter = _TimeoutAdapter(self._mhealth_budget)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            return client

        def download_file(
            self, response: requests.Response, outfile: str, *args: Any, **kwargs: Any
        ) -> None:
            _stream_to_file(response, Path(outfile), self._mhealth_budget)

    return BoundedKaggleApi


def _stream_to_file(response: requests.Response, outfile: Path, budget: TimeBudget) -> None:
    """Write the body to ``outfile`` in chunks, checking the deadline and the announced size."""
    announced = response.headers.get("Content-Length")
    written = 0
    try:
        with outfile.open("wb") as sink:
            for chunk in response.iter_content(_CHUNK_BYTES):
                budget.check(f"receiving {outfile.name}")
                sink.write(chunk)
                written += len(chunk)
    finally:
        response.close()
    if announced is not None and written != int(announced):
        raise IncompleteDownloadError(
            f"{outfile.name}: received {written} of {announced} announced bytes"
        )
