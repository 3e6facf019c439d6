"""Verifying an AWS Signature Version 4 request with the caller's secret (standard library only).

Builds the canonical request and string to sign as "Create a signed AWS API request"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html)
describes, for both the Authorization header and the presigned-URL (query string) forms.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-fA-F]+)"
)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class SignedRequest:
    """What a signature covers, as received."""

    access_key_id: str
    scope: str  # date/region/service/aws4_request
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    presigned: bool


def parse_signature(
    authorization: str | None, query: Mapping[str, str], amz_date: str
) -> SignedRequest | None:
    """The signature of a request (header or presigned form); None when it is not SigV4.
    ``amz_date`` is the request's ``X-Amz-Date`` (or ``Date``) header."""
    if authorization:
        match = _AUTH.match(authorization.strip())
        if not match:
            return None
        key, _, scope = match["credential"].partition("/")
        return SignedRequest(
            key,
            scope,
            tuple(match["signed"].lower().split(";")),
            match["signature"].lower(),
            amz_date,
            presigned=False,
        )
    if query.get("X-Amz-Algorithm") == ALGORITHM and query.get("X-Amz-Credential"):
        key, _, scope = query["X-Amz-Credential"].partition("/")
        return SignedRequest(
            key,
            scope,
            tuple(query.get("X-Amz-SignedHeaders", "host").lower().split(";")),
            query.get("X-Amz-Signature", "").lower(),
            query.get("X-Amz-Date", ""),
            presigned=True,
        )
    return None


def canonical_query(raw_query: str, *, presigned: bool) -> str:
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&") if raw_query else []:
        if not part:
            continue
        name, _, value = part.partition("=")
        name, value = unquote(name), unquote(value)
        if presigned and name == "X-Amz-Signature":
            continue
        pairs.append((quote(name, safe="-_.~"), quote(value, safe="-_.~")))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def canonical_headers(signed: Iterable[str], headers: Callable[[str], list[str]]) -> str:
    lines = []
    for name in signed:
        values = [_SPACES.sub(" ", value.strip()) for value in headers(name)]
        lines.append(f"{name}:{','.join(values)}\n")
    return "".join(lines)


def signing_key(secret: str, scope: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signature_for(
    signed: SignedRequest,
    secret: str,
    *,
    method: str,
    canonical_uri: str,
    raw_query: str,
    headers: Callable[[str], list[str]],
    payload_hash: str,
) -> str:
    canonical = "\n".join(
        [
            method.upper(),
            canonical_uri or "/",
            canonical_query(raw_query, presigned=signed.presigned),
            canonical_headers(signed.signed_headers, headers),
            ";".join(signed.signed_headers),
            payload_hash,
        ]
    )
    string_to_sign = "\n".join(
        [ALGORITHM, signed.amz_date, signed.scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    return hmac.new(
        signing_key(secret, signed.scope), string_to_sign.encode(), hashlib.sha256
    ).hexdigest()


def uri_candidates(raw_path: str) -> list[str]:
    """The canonical URI as S3 signs it (the path as sent) and as every other service does
    (each segment URI-encoded once more, as botocore's SigV4Auth does)."""
    path = raw_path or "/"
    return list(dict.fromkeys([path, quote(path, safe="/~")]))


def verify(
    signed: SignedRequest,
    secret: str,
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Callable[[str], list[str]],
    payload_hash: str,
) -> bool:
    """Whether the request was signed with ``secret``."""
    for uri in uri_candidates(raw_path):
        expected = signature_for(
            signed,
            secret,
            method=method,
            canonical_uri=uri,
            raw_query=raw_query,
            headers=headers,
            payload_hash=payload_hash,
        )
        if hmac.compare_digest(expected, signed.signature):
            return True
    return False
