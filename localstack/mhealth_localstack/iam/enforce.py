"""IAM enforcement in LocalStack's gateway: each request signed with temporary credentials of an
assumed role is authenticated and evaluated against that role's policies before it is served.

Registered as a ``localstack.hooks.on_infra_start`` hook that appends a request handler to the
gateway's ``serve_custom_service_request_handlers`` (after the request is parsed, before the
service sees it) and a response handler that turns S3's 404 for a missing key into AWS's 403
when the role may not list the bucket. Requests signed with the plain local credentials (access
key ``test``, a 12-digit account id, or any key LocalStack did not issue) are left alone: they
are the developer's own, with an administrator's rights.

``MHEALTH_IAM``: ``enforce`` (the default), ``log`` (evaluate and record, never refuse) or
``off``. Every decision goes to ``$MHEALTH_STATE_DIR/iam-decisions.jsonl`` for
``mhealth local iam-report``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from localstack.aws.api import CommonServiceException, RequestContext
from localstack.runtime import hooks

from mhealth_localstack.iam import actions, policy, sigv4

LOG = logging.getLogger(__name__)

MODES = ("enforce", "log", "off")
DECISIONS_FILE = "iam-decisions.jsonl"
#: Services whose errors use ``AccessDenied`` (query and rest-xml protocols) and their status.
_ACCESS_DENIED_CODES: dict[str, tuple[str, int]] = {
    "s3": ("AccessDenied", 403),
    "sns": ("AuthorizationError", 403),
    "sqs": ("AccessDenied", 403),
    "sts": ("AccessDenied", 403),
    "iam": ("AccessDenied", 403),
    "cloudformation": ("AccessDenied", 403),
    "cloudwatch": ("AccessDenied", 403),
    "lambda": ("AccessDeniedException", 403),
}


def configured_mode() -> str:
    mode = os.environ.get("MHEALTH_IAM", "enforce").strip().lower() or "enforce"
    if mode not in MODES:
        raise ValueError(f"MHEALTH_IAM={mode!r}: expected one of {', '.join(MODES)}")
    return mode


@dataclass(frozen=True)
class Principal:
    """An assumed-role session: who signs, with which secret, acting as which role."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    arn: str  # arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION
    account_id: str
    user_id: str
    expired: bool

    @property
    def role_name(self) -> str:
        return self.arn.split(":assumed-role/", 1)[1].split("/", 1)[0]

    @property
    def role_arn(self) -> str:
        partition = self.arn.split(":", 2)[1]
        return f"arn:{partition}:iam::{self.account_id}:role/{self.role_name}"


def find_principal(access_key_id: str) -> Principal | None:
    """The assumed-role session LocalStack's STS issued this key for; None for other keys."""
    from localstack.constants import AWS_REGION_US_EAST_1, DEFAULT_AWS_ACCOUNT_ID
    from localstack.services.sts.models import sts_stores

    # The credentials attribute is shared across accounts and regions.
    credentials = sts_stores[DEFAULT_AWS_ACCOUNT_ID][AWS_REGION_US_EAST_1].credentials
    found = credentials.get(access_key_id)
    if found is None or ":assumed-role/" not in found.arn:
        return None
    return Principal(
        access_key_id=found.access_key_id,
        secret_access_key=found.secret_access_key,
        session_token=found.session_token,
        arn=found.arn,
        account_id=found.account_id,
        user_id=found.user_id,
        expired=found.is_expired(),
    )


# ------------------------------------------------------------------ the role's policies


@cache
def _aws_managed_policies() -> dict[str, Any]:
    import localstack.services.iam as iam_package

    path = Path(iam_package.__file__).parent / "resources" / "aws_managed_policies.json"
    with path.open(encoding="utf-8") as source:
        data: dict[str, Any] = json.load(source)
    return {f"arn:aws:iam::aws:policy{v['Path']}{name}": v["Document"] for name, v in data.items()}


def role_policies(account_id: str, role_name: str) -> list[tuple[str, str]] | None:
    """``(policy name, document JSON)`` of the role's inline and attached managed policies, as
    LocalStack's IAM holds them now (so a policy changed by a test applies at once); None when
    IAM holds no such role."""
    from localstack.constants import AWS_REGION_US_EAST_1
    from localstack.services.iam.models import iam_stores

    store = iam_stores[account_id][AWS_REGION_US_EAST_1]
    entity = store.ROLES.get(role_name)
    if entity is None:
        return None
    documents = [(name, unquote(text)) for name, text in entity.inline_policies.items()]
    for arn in entity.attached_policy_arns:
        name = arn.rsplit("/", 1)[-1]
        if ":iam::aws:policy/" in arn:
            normalized = "arn:aws:iam::aws:policy/" + arn.split(":iam::aws:policy/", 1)[1]
            document = _aws_managed_policies().get(normalized)
            if document is not None:
                documents.append((name, json.dumps(document)))
            continue
        managed = store.MANAGED_POLICIES.get(arn)
        if managed is None:
            continue
        version = managed.versions.get(managed.policy.get("DefaultVersionId") or "v1")
        document_text = version.get("Document") if version else None
        if document_text:
            documents.append((name, unquote(document_text)))
    return documents


def role_tags(account_id: str, role_name: str) -> dict[str, str]:
    from localstack.constants import AWS_REGION_US_EAST_1
    from localstack.services.iam.models import iam_stores

    entity = iam_stores[account_id][AWS_REGION_US_EAST_1].ROLES.get(role_name)
    if entity is None:
        return {}
    return {tag["Key"]: tag["Value"] for tag in entity.role.get("Tags") or []}


def statements_of(documents: Iterable[tuple[str, str]]) -> tuple[policy.Statement, ...]:
    """The statements of a role's policy documents, parsed once per distinct set of documents
    (a policy changed by ``PutRolePolicy`` is a new set, so it applies at once)."""
    return _parsed_statements(tuple(documents))


@lru_cache(maxsize=256)
def _parsed_statements(documents: tuple[tuple[str, str], ...]) -> tuple[policy.Statement, ...]:
    statements: list[policy.Statement] = []
    for name, text in documents:
        try:
            statements.extend(policy.parse_policy(name, text))
        except policy.PolicyError as error:
            LOG.warning("IAM: ignoring unreadable policy %s: %s", name, error)
    return tuple(statements)


# ------------------------------------------------------------------ the decisions journal


class DecisionJournal:
    """Appends every decision (and each role's statements, when they change) as JSON lines."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._file: Any = None
        self._policy_fingerprints: dict[str, str] = {}
        # The statements last journalled per role (the parsed tuple is cached, so an unchanged
        # policy is the same object and needs no fingerprint).
        self._last_statements: dict[str, tuple[policy.Statement, ...]] = {}
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("w", encoding="utf-8")

    def _write(self, record: dict[str, Any]) -> None:
        if self._file is None:
            return
        line = json.dumps(record, separators=(",", ":"))
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def policies(self, role_arn: str, statements: tuple[policy.Statement, ...]) -> None:
        if self._last_statements.get(role_arn) is statements:
            return
        self._last_statements[role_arn] = statements
        summary = [
            {
                "label": s.label,
                "effect": s.effect,
                "actions": list(s.actions) if s.not_actions is None else ["NOT", *s.not_actions],
                "resources": list(s.resources)
                if s.not_resources is None
                else ["NOT", *s.not_resources],
            }
            for s in statements
        ]
        fingerprint = hashlib.sha256(json.dumps(summary).encode()).hexdigest()
        with self._lock:
            if self._policy_fingerprints.get(role_arn) == fingerprint:
                return
            self._policy_fingerprints[role_arn] = fingerprint
        self._write({"kind": "policies", "role": role_arn, "statements": summary})

    def decision(
        self, principal: Principal, decision: policy.Decision, mode: str, operation: str
    ) -> None:
        self._write(
            {
                "kind": "decision",
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "mode": mode,
                "role": principal.role_arn,
                "session": principal.arn,
                "operation": operation,
                "action": decision.check.action,
                "resource": decision.check.resource,
                "outcome": decision.outcome,
                "statement": decision.statement.label if decision.statement else None,
                "allowed_by": [s.label for s in decision.allowed_by],
            }
        )


# ------------------------------------------------------------------ errors in the service's shape


def denial_message(principal: Principal, decision: policy.Decision) -> str:
    """AWS's wording ("User: … is not authorized to perform: … because …")."""
    check = decision.check
    on_resource = f" on resource: {check.resource}" if check.resource != "*" else ""
    if decision.outcome == "explicit-deny":
        why = "with an explicit deny in an identity-based policy"
    else:
        why = f"because no identity-based policy allows the {check.action} action"
    return f"User: {principal.arn} is not authorized to perform: {check.action}{on_resource} {why}"


def access_denied(service: str, message: str) -> CommonServiceException:
    code, status = _ACCESS_DENIED_CODES.get(service, ("AccessDeniedException", 400))
    return CommonServiceException(code, message, status_code=status, sender_fault=True)


def signature_mismatch(service: str) -> CommonServiceException:
    message = (
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method."
    )
    if service == "s3":
        return CommonServiceException("SignatureDoesNotMatch", message, status_code=403)
    if service in ("lambda",):
        return CommonServiceException("InvalidSignatureException", message, status_code=403)
    if service in _ACCESS_DENIED_CODES:
        return CommonServiceException("SignatureDoesNotMatch", message, status_code=403)
    return CommonServiceException("InvalidSignatureException", message, status_code=400)


def expired_token(service: str) -> CommonServiceException:
    code = "ExpiredToken" if service in _ACCESS_DENIED_CODES else "ExpiredTokenException"
    return CommonServiceException(
        code, "The security token included in the request is expired", status_code=400
    )


def invalid_token(service: str) -> CommonServiceException:
    if service == "s3":
        return CommonServiceException(
            "InvalidToken", "The provided token is malformed or otherwise invalid.", 400
        )
    code = (
        "InvalidClientTokenId" if service in _ACCESS_DENIED_CODES else "UnrecognizedClientException"
    )
    return CommonServiceException(
        code, "The security token included in the request is invalid.", status_code=403
    )


# ------------------------------------------------------------------ the handlers


def _header_values(request: Any) -> Any:
    def values(name: str) -> list[str]:
        return [str(v) for v in request.headers.getlist(name)]

    return values


def _raw_path_and_query(request: Any) -> tuple[str, str]:
    raw_uri = str(request.environ.get("RAW_URI") or "")
    if raw_uri.startswith(("http://", "https://")):
        raw_uri = "/" + raw_uri.split("://", 1)[1].partition("/")[2]
    path, _, query = raw_uri.partition("?")
    if not path:
        from urllib.parse import quote

        path = quote(request.path)
    raw_query = request.query_string.decode("latin-1") if request.query_string else query
    return path or "/", raw_query


class IamEnforcer:
    """The request and response handlers, and what they share."""

    def __init__(self, mode: str, journal: DecisionJournal) -> None:
        self.mode = mode
        self.journal = journal
        # S3 GetObject/HeadObject requests whose role may not list the bucket (404 -> 403).
        self._unlisted: weakref.WeakKeyDictionary[RequestContext, str] = weakref.WeakKeyDictionary()
        self._unknown_roles: set[str] = set()

    # ---------------------------------------------------------------- request
    @staticmethod
    def keep_signed_body(chain: Any, context: RequestContext, response: Any) -> None:
        """Reads and caches the body of a SigV4 request that does not carry its hash (every
        service but S3) before LocalStack's parser sees it: the parser consumes a form body,
        and hands a blob payload (Lambda's Invoke) to the service as the raw stream, while the
        signature check needs the bytes that were signed. Cached, both read the same bytes."""
        request = context.request
        if request.headers.get("Authorization", "").startswith(
            sigv4.ALGORITHM
        ) and not request.headers.get("X-Amz-Content-Sha256"):
            request.get_data(cache=True, parse_form_data=False)

    def on_request(self, chain: Any, context: RequestContext, response: Any) -> None:
        if self.mode == "off" or context.service is None or context.operation is None:
            return
        request = context.request
        signed = sigv4.parse_signature(
            request.headers.get("Authorization"),
            request.args,
            request.headers.get("X-Amz-Date") or request.headers.get("Date") or "",
        )
        if signed is None:
            return
        principal = find_principal(signed.access_key_id)
        if principal is None:
            return
        service = context.service.service_name
        self._authenticate(context, signed, principal, service)
        if self._exempt(context):
            return
        target = actions.Target(
            context.region or "us-east-1",
            context.account_id or principal.account_id,
            context.partition or "aws",
        )
        checks = actions.checks_for(
            service,
            context.operation.name,
            context.service_request or {},
            target,
            resolve_secret=lambda secret: _secret_arn(secret, target),
        )
        if not checks:
            return
        documents = role_policies(principal.account_id, principal.role_name)
        if documents is None:
            # LocalStack's STS issues credentials for any role ARN; AWS would not have let a
            # function or job use a role that does not exist. Nothing to evaluate against.
            if principal.role_arn not in self._unknown_roles:
                self._unknown_roles.add(principal.role_arn)
                LOG.warning(
                    "IAM: role %s does not exist: its requests are not evaluated",
                    principal.role_arn,
                )
            return
        statements = statements_of(documents)
        self.journal.policies(principal.role_arn, statements)
        request_context = self._request_context(context, principal)
        denied: policy.Decision | None = None
        for check in checks:
            decision = policy.evaluate(
                statements,
                policy.Check(check.action, check.resource, {**request_context, **check.context}),
            )
            self._record(principal, decision, context.operation.name)
            if not decision.allowed and denied is None:
                denied = decision
        if denied is not None and self.mode == "enforce":
            raise access_denied(service, denial_message(principal, denied))
        if service == "s3" and context.operation.name in ("GetObject", "HeadObject"):
            bucket = str((context.service_request or {}).get("Bucket") or "")
            listing = policy.evaluate(
                statements,
                policy.Check(
                    "s3:ListBucket", actions.s3_bucket_arn(target, bucket), request_context
                ),
            )
            if not listing.allowed:
                self._unlisted[context] = denial_message(principal, listing)

    def _authenticate(
        self,
        context: RequestContext,
        signed: sigv4.SignedRequest,
        principal: Principal,
        service: str,
    ) -> None:
        request = context.request
        if principal.expired:
            raise expired_token(service)
        token = request.headers.get("X-Amz-Security-Token") or request.args.get(
            "X-Amz-Security-Token"
        )
        if token != principal.session_token:
            raise invalid_token(service)
        if request.headers.get("Content-Encoding", "").lower() in ("gzip", "deflate"):
            # LocalStack has already decompressed the body the signature covers.
            return
        raw_path, raw_query = _raw_path_and_query(request)
        payload_hash = request.headers.get("X-Amz-Content-Sha256") or (
            "UNSIGNED-PAYLOAD"
            if signed.presigned
            else hashlib.sha256(request.get_data() or b"").hexdigest()
        )
        if not sigv4.verify(
            signed,
            principal.secret_access_key,
            method=request.method,
            raw_path=raw_path,
            raw_query=raw_query,
            headers=_header_values(request),
            payload_hash=payload_hash,
        ):
            LOG.info(
                "IAM: signature mismatch for %s (%s %s)", principal.arn, request.method, raw_path
            )
            raise signature_mismatch(service)

    @staticmethod
    def _exempt(context: RequestContext) -> bool:
        """LocalStack's own Lambda log writer (an internal call, signed as the function's role)
        calls CreateLogGroup whenever a log stream is missing; AWS's Lambda service creates only
        the stream when the group exists, so the role is never asked for CreateLogGroup there."""
        return (
            context.is_internal_call
            and context.service is not None
            and context.service.service_name == "logs"
            and context.operation is not None
            and context.operation.name == "CreateLogGroup"
        )

    @staticmethod
    def _request_context(context: RequestContext, principal: Principal) -> dict[str, list[str]]:
        """Global condition keys
        (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html)."""
        request = context.request
        now = time.time()
        values: dict[str, list[str]] = {
            "aws:PrincipalArn": [principal.role_arn],
            "aws:PrincipalAccount": [principal.account_id],
            "aws:PrincipalType": ["AssumedRole"],
            "aws:userid": [principal.user_id],
            "aws:SecureTransport": ["true" if request.scheme == "https" else "false"],
            "aws:RequestedRegion": [context.region or "us-east-1"],
            "aws:CurrentTime": [datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")],
            "aws:EpochTime": [str(int(now))],
            "aws:ViaAWSService": ["false"],
        }
        if request.remote_addr:
            values["aws:SourceIp"] = [request.remote_addr]
        for key, value in role_tags(principal.account_id, principal.role_name).items():
            values[f"aws:PrincipalTag/{key}"] = [value]
        return values

    def _record(self, principal: Principal, decision: policy.Decision, operation: str) -> None:
        self.journal.decision(principal, decision, self.mode, operation)
        if self.mode == "log" or not decision.allowed:
            LOG.info(
                "IAM %s: %s %s on %s (%s)",
                decision.outcome,
                principal.role_arn,
                decision.check.action,
                decision.check.resource,
                decision.statement.label if decision.statement else "no statement",
            )

    # ---------------------------------------------------------------- response
    def on_response(self, chain: Any, context: RequestContext, response: Any) -> None:
        message = self._unlisted.pop(context, None)
        if message is None or response.status_code != 404:
            return
        # https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html ("Permissions"):
        # a missing key is a 403 for a caller without s3:ListBucket.
        from localstack.aws.protocol.serializer import create_serializer

        serializer = create_serializer(context.service)
        denied = serializer.serialize_error_to_response(
            access_denied("s3", message),
            context.operation,
            context.request.headers,
            context.request_id,
        )
        response.update_from(denied)


def _secret_arn(secret: str, target: actions.Target) -> str | None:
    """The full ARN (with its random suffix) of a secret named by name or ARN."""
    try:
        from moto.secretsmanager.models import secretsmanager_backends

        backend = secretsmanager_backends[target.account_id][target.region]
        if secret not in backend.secrets:
            return None
        return str(backend.secrets[secret].arn)
    except Exception:
        return None


@hooks.on_infra_start()  # type: ignore[untyped-decorator]  # LocalStack leaves it untyped
def mhealth_iam_enforcement() -> None:
    """Adds the IAM handlers to LocalStack's gateway (entry point in pyproject.toml)."""
    from localstack.aws.handlers import (
        preprocess_request,
        run_custom_response_handlers,
        serve_custom_service_request_handlers,
    )

    mode = configured_mode()
    LOG.info("IAM on the local stage: %s", mode)
    if mode == "off":
        return
    state_dir = os.environ.get("MHEALTH_STATE_DIR")
    journal = DecisionJournal(Path(state_dir) / DECISIONS_FILE if state_dir else None)
    enforcer = IamEnforcer(mode, journal)
    preprocess_request.append(enforcer.keep_signed_body)
    serve_custom_service_request_handlers.append(enforcer.on_request)
    run_custom_response_handlers.append(enforcer.on_response)
