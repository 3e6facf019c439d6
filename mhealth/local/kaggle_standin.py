"""A local stand-in for Kaggle's dataset download API, so the real ``kaggle`` client runs offline.

It speaks the two routes the download step uses, as ``kagglesdk`` 0.1.38 calls them::

    POST /v1/security.OAuthService/IntrospectToken      (only with an API token)
    Authorization: Bearer KGAT_...
    {"token": "KGAT_..."}

    POST /v1/datasets.DatasetApiService/DownloadDataset
    Authorization: Basic base64(username:key)  or  Bearer KGAT_...
    {"ownerSlug": "...", "datasetSlug": "...", "datasetVersionNumber": 3}

``kaggle`` 2.x checks an API token (``KAGGLE_API_TOKEN``) with the introspection call before
anything else; the legacy pair is sent as Basic without any check. The stand-in answers the
introspection with ``{"active": true, "username": ...}`` for a token it issued, ``{"active":
false}`` for one it expired (:meth:`KaggleStandin.expire_token`), and HTTP 401 for a bearer it
never issued; the download with the zip itself (``application/zip``, exact ``Content-Length``,
``Last-Modified``), or a Kaggle-style JSON error (``{"code": 401, "message": ...}``) for wrong
or expired credentials and an unknown dataset. ``GET /health`` → 200 for readiness checks.

It also serves the publisher's form of a dataset, as the UCI Machine Learning Repository does,
with no credentials: ``GET /static/public/<id>/<name>.zip`` answers the file
``<datasets_dir>/_uci/<id>/<name>.zip`` (:func:`uci_archive_path`), or 404.

Datasets come from ``<datasets_dir>/<owner>/<slug>.zip`` or from bytes handed to
:meth:`KaggleStandin.serve_bytes`; the version number is recorded but does not select a
different file. Tests can inject faults: :meth:`KaggleStandin.fail_next` (answer the next
downloads with an HTTP error) and :meth:`KaggleStandin.stall_next` (hold the next downloads
before answering, to exercise client timeouts).

Run it as ``python -m mhealth.local.kaggle_standin --host 127.0.0.1 --port 4599 --datasets-dir DIR
--username U --key K [--token KGAT_...]``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hmac
import io
import json
import logging
import os
import re
import shutil
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Final, Self

from mhealth.core.kaggle_ref import is_part, split_dataset_ref

DOWNLOAD_PATH: Final = "/v1/datasets.DatasetApiService/DownloadDataset"
INTROSPECT_PATH: Final = "/v1/security.OAuthService/IntrospectToken"
HEALTH_PATH: Final = "/health"
#: Where the UCI repository serves dataset archives (``/static/public/319/mhealth+dataset.zip``).
UCI_PATH_PREFIX: Final = "/static/public/"
_UCI_DIR: Final = "_uci"  # not a valid Kaggle owner slug, so it never shadows one
_UCI_PATH: Final = re.compile(r"^/static/public/(?P<id>[0-9]+)/(?P<name>[A-Za-z0-9_.+-]+\.zip)$")

_MAX_BODY_BYTES: Final = 64 * 1024
_COPY_CHUNK_BYTES: Final = 1024 * 1024

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordedRequest:
    """One download request as the stand-in saw it, and what it answered."""

    owner_slug: str | None
    dataset_slug: str | None
    version_number: int | None
    username: str | None
    status: int
    #: How the request authenticated: "basic", "bearer", or None (no or malformed header).
    scheme: str | None = None


@dataclass(frozen=True)
class _Fault:
    status: int | None = None  # answer with this HTTP error
    stall_seconds: float = 0.0  # wait this long before answering normally


@dataclass(frozen=True)
class _Dataset:
    data: bytes | Path
    last_modified: float  # POSIX seconds; for a file, read again when it is served


class KaggleStandin:
    """The stand-in server; start it in a thread (``port=0`` picks a free port) or serve forever."""

    def __init__(
        self,
        *,
        username: str,
        key: str,
        tokens: Sequence[str] = (),
        datasets_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.username = username
        self._key = key
        #: API tokens this stand-in issued (to ``username``) and those it has since expired.
        self._tokens = {token for token in tokens if token}
        self._expired_tokens: set[str] = set()
        self._introspections: list[tuple[bool, str | None]] = []
        self.datasets_dir = datasets_dir
        self._lock = threading.Lock()
        self._in_memory: dict[tuple[str, str], _Dataset] = {}
        self._faults: deque[_Fault] = deque()
        self._requests: list[RecordedRequest] = []
        self._received = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._server = _Server((host, port), _handler_class(self))

    # -- control ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL to point the client at, e.g. ``http://127.0.0.1:4599``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve_bytes(self, dataset: str, data: bytes) -> None:
        """Serve ``data`` as the zip of ``owner/slug`` (takes precedence over ``datasets_dir``)."""
        owner, slug = split_dataset_ref(dataset)
        with self._lock:
            self._in_memory[(owner, slug)] = _Dataset(data, time.time())

    def fail_next(self, count: int, status: int = HTTPStatus.INTERNAL_SERVER_ERROR) -> None:
        """Answer the next ``count`` download requests with HTTP ``status`` (before auth)."""
        with self._lock:
            self._faults.extend(_Fault(status=int(status)) for _ in range(count))

    def stall_next(self, count: int, seconds: float) -> None:
        """Hold the next ``count`` download requests ``seconds`` before answering them."""
        with self._lock:
            self._faults.extend(_Fault(stall_seconds=seconds) for _ in range(count))

    def expire_token(self, token: str) -> None:
        """From now on ``token`` introspects as inactive and downloads with it get 401."""
        with self._lock:
            self._tokens.discard(token)
            self._expired_tokens.add(token)

    @property
    def introspections(self) -> list[tuple[bool, str | None]]:
        """Token introspections so far: (answered active?, username answered)."""
        with self._lock:
            return list(self._introspections)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Download requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def received(self) -> int:
        """Download requests received so far, including any still being answered."""
        with self._lock:
            return self._received

    def start(self) -> Self:
        """Serve in a daemon thread until :meth:`stop`."""
        if self._thread is not None:
            raise RuntimeError("the Kaggle stand-in is already running")
        # A short poll interval makes stop() prompt (shutdown waits for the next poll).
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="kaggle-standin",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted."""
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def stop(self) -> None:
        self._stopping.set()  # releases stalled requests
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- used by the request handler -------------------------------------------------------

    def _next_fault(self) -> _Fault | None:
        with self._lock:
            self._received += 1
            return self._faults.popleft() if self._faults else None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _credentials_match(self, username: str, key: str) -> bool:
        # Constant-time comparison: the stand-in models a real credential check.
        return hmac.compare_digest(username.encode(), self.username.encode()) & hmac.compare_digest(
            key.encode(), self._key.encode()
        )

    def _token_state(self, token: str) -> str:
        """Whether ``token`` is "active", "expired" or "unknown" (constant-time comparisons)."""
        with self._lock:
            active, expired = set(self._tokens), set(self._expired_tokens)
        if any(hmac.compare_digest(token.encode(), known.encode()) for known in active):
            return "active"
        if any(hmac.compare_digest(token.encode(), known.encode()) for known in expired):
            return "expired"
        return "unknown"

    def _introspected(self, active: bool, username: str | None) -> None:
        with self._lock:
            self._introspections.append((active, username))

    def _find(self, owner: str, slug: str) -> _Dataset | None:
        with self._lock:
            found = self._in_memory.get((owner, slug))
        if found is not None:
            return found
        if self.datasets_dir is None:
            return None
        path = dataset_path(self.datasets_dir, f"{owner}/{slug}")
        if not path.is_file():
            return None
        return _Dataset(path, path.stat().st_mtime)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hangs up mid-answer (its timeout, a test's deadline) is not an error here.
        if isinstance(sys.exc_info()[1], ConnectionError):
            logger.info("client %s went away", client_address)
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


def dataset_path(datasets_dir: Path, dataset: str) -> Path:
    """Where the stand-in looks for ``owner/slug``: ``<datasets_dir>/<owner>/<slug>.zip``."""
    owner, slug = split_dataset_ref(dataset)
    return datasets_dir / owner / f"{slug}.zip"


def publish_dataset(datasets_dir: Path, dataset: str, zip_path: Path) -> Path:
    """Copy ``zip_path`` to where the stand-in serves ``owner/slug`` from; atomic, so a
    download running meanwhile sees the old or the new file, never half of one."""
    target = dataset_path(datasets_dir, dataset)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    shutil.copyfile(zip_path, partial)
    partial.replace(target)
    return target


def _bearer_token(header: str | None) -> str | None:
    if not header or not header.startswith("Bearer "):
        return None
    return header[len("Bearer ") :].strip() or None


def uci_archive_path(datasets_dir: Path, url_path: str) -> Path | None:
    """The file served for a UCI-style ``url_path``; ``None`` if the path is not one."""
    match = _UCI_PATH.match(url_path)
    if match is None:
        return None
    return datasets_dir / _UCI_DIR / match["id"] / match["name"]


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[len("Basic ") :], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, key = decoded.partition(":")
    return (username, key) if sep else None


def _handler_class(standin: KaggleStandin) -> type[BaseHTTPRequestHandler]:
    class _KaggleHandler(BaseHTTPRequestHandler):
        # HTTP/1.1 keeps the client's connection alive; every answer carries Content-Length.
        protocol_version = "HTTP/1.1"
        server_version = "KaggleStandin/1"

        def do_GET(self) -> None:
            if self.path == HEALTH_PATH:
                self._send_json(HTTPStatus.OK, {"status": "ok"})
            elif self.path.startswith(UCI_PATH_PREFIX):
                self._uci_download()
            else:
                self._send_error(HTTPStatus.NOT_FOUND, f"no route for GET {self.path}")

        def do_POST(self) -> None:
            body = self._read_body()
            if self.path == INTROSPECT_PATH:
                self._introspect(body)
            elif self.path == DOWNLOAD_PATH:
                self._download(body)
            else:
                self._send_error(HTTPStatus.NOT_FOUND, f"no route for POST {self.path}")

        def _introspect(self, body: bytes | None) -> None:
            # The caller authenticates with the token it asks about; a bearer never issued
            # is not a caller at all (401), an issued one gets RFC 7662's "active" answer.
            bearer = _bearer_token(self.headers.get("Authorization"))
            if bearer is None or standin._token_state(bearer) == "unknown":
                self._send_error(HTTPStatus.UNAUTHORIZED, "Unauthenticated: unknown API token")
                return
            try:
                asked = json.loads(body or b"{}").get("token")
            except (ValueError, AttributeError):
                asked = None
            if not isinstance(asked, str):
                self._send_error(HTTPStatus.BAD_REQUEST, "expected a token")
                return
            if standin._token_state(asked) != "active":
                standin._introspected(False, None)
                self._send_json(HTTPStatus.OK, {"active": False})
                return
            standin._introspected(True, standin.username)
            self._send_json(
                HTTPStatus.OK,
                {"active": True, "username": standin.username, "scope": "resources.admin:*"},
            )

        def _authenticated_user(self) -> tuple[str | None, str | None, bool]:
            """(scheme, username, accepted) of the request's Authorization header."""
            header = self.headers.get("Authorization")
            bearer = _bearer_token(header)
            if bearer is not None:
                accepted = standin._token_state(bearer) == "active"
                return "bearer", standin.username if accepted else None, accepted
            credentials = _basic_credentials(header)
            if credentials is not None:
                return "basic", credentials[0], standin._credentials_match(*credentials)
            return None, None, False

        def _download(self, body: bytes | None) -> None:
            scheme, username, accepted = self._authenticated_user()
            owner = slug = None
            version: int | None = None
            try:
                request = json.loads(body or b"{}")
                owner, slug = request.get("ownerSlug"), request.get("datasetSlug")
                raw_version = request.get("datasetVersionNumber")
                version = int(raw_version) if raw_version is not None else None
            except (ValueError, TypeError, AttributeError):
                request = None

            def answer(status: int) -> None:
                standin._record(
                    RecordedRequest(owner, slug, version, username, int(status), scheme)
                )

            fault = standin._next_fault()
            if fault is not None and fault.status is not None:
                answer(fault.status)
                self._send_error(fault.status, "injected failure")
                return
            if fault is not None and fault.stall_seconds:
                standin._stopping.wait(fault.stall_seconds)
            if not accepted:
                answer(HTTPStatus.UNAUTHORIZED)
                self._send_error(
                    HTTPStatus.UNAUTHORIZED,
                    "Unauthenticated: expired or unknown API token"
                    if scheme == "bearer"
                    else "Unauthenticated: wrong username or key",
                )
                return
            if request is None or not isinstance(owner, str) or not isinstance(slug, str):
                answer(HTTPStatus.BAD_REQUEST)
                self._send_error(HTTPStatus.BAD_REQUEST, "expected ownerSlug and datasetSlug")
                return
            dataset = standin._find(owner, slug) if is_part(owner) and is_part(slug) else None
            if dataset is None:
                answer(HTTPStatus.NOT_FOUND)
                self._send_error(HTTPStatus.NOT_FOUND, f"Dataset {owner}/{slug} not found")
                return
            answer(HTTPStatus.OK)
            self._send_zip(dataset)

        def _uci_download(self) -> None:
            path = (
                uci_archive_path(standin.datasets_dir, self.path)
                if standin.datasets_dir is not None
                else None
            )
            if path is None or not path.is_file():
                self._send_error(HTTPStatus.NOT_FOUND, f"no archive at {self.path}")
                return
            self._send_zip(_Dataset(path, path.stat().st_mtime))

        def _send_zip(self, dataset: _Dataset) -> None:
            if isinstance(dataset.data, bytes):
                self._send_zip_headers(len(dataset.data), dataset.last_modified)
                self.wfile.write(dataset.data)
                return
            # Size and date from the open file: a file replaced meanwhile cannot mismatch.
            with dataset.data.open("rb") as source:
                status = os.fstat(source.fileno())
                self._send_zip_headers(status.st_size, status.st_mtime)
                _copy(source, self.wfile)

        def _send_zip_headers(self, size: int, last_modified: float) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(size))
            self.send_header("Last-Modified", formatdate(last_modified, usegmt=True))
            self.end_headers()

        def _read_body(self) -> bytes | None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                return None
            if length > _MAX_BODY_BYTES:
                self.close_connection = True
                return None
            return self.rfile.read(length) if length else b""

        def _send_error(self, status: int, message: str) -> None:
            # Kaggle's error shape; kagglesdk raises HTTPError(message) on a JSON "code" >= 400.
            self._send_json(status, {"code": int(status), "message": message})

        def _send_json(self, status: int, payload: dict[str, object]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            logger.info("%s %s", self.address_string(), format % args)

    return _KaggleHandler


def _copy(source: BinaryIO, sink: BinaryIO | io.BufferedIOBase) -> None:
    shutil.copyfileobj(source, sink, _COPY_CHUNK_BYTES)


def build_arg_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The stand-in's command-line options (shared with ``mhealth standin``)."""
    parser = parser or argparse.ArgumentParser(
        prog="python -m mhealth.local.kaggle_standin",
        description="A local stand-in for Kaggle's dataset download API.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=4599, help="port to listen on (0: any)")
    parser.add_argument(
        "--datasets-dir",
        type=Path,
        required=True,
        help="directory holding <owner>/<dataset-slug>.zip",
    )
    parser.add_argument("--username", required=True, help="the Kaggle username to accept")
    parser.add_argument("--key", required=True, help="the Kaggle API key to accept")
    parser.add_argument(
        "--token",
        action="append",
        default=[],
        help="an API token (KAGGLE_API_TOKEN) to accept as Bearer, for --username; repeatable",
    )
    return parser


def serve(args: argparse.Namespace) -> int:
    """Run the stand-in in the foreground until interrupted; returns an exit code."""
    datasets_dir: Path = args.datasets_dir
    if not datasets_dir.is_dir():
        print(f"datasets directory {datasets_dir} does not exist", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s kaggle-standin %(message)s")
    standin = KaggleStandin(
        username=args.username,
        key=args.key,
        tokens=args.token,
        datasets_dir=datasets_dir,
        host=args.host,
        port=args.port,
    )
    logger.info("serving %s at %s", datasets_dir, standin.url)
    with contextlib.suppress(KeyboardInterrupt):
        standin.serve_forever()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return serve(build_arg_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
