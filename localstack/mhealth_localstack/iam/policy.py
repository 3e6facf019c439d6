"""AWS IAM identity-policy evaluation: explicit Deny over Allow, default deny (stdlib only).

Follows "Policy evaluation logic" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)
for identity-based policies of one principal, and the element references for ``Action`` /
``NotAction``, ``Resource`` / ``NotResource``, condition operators (``…IfExists``, ``Null``,
``ForAnyValue:`` / ``ForAllValues:``) and policy variables. Resource-based policies,
permissions boundaries, SCPs and session policies are not evaluated.

This module imports nothing from LocalStack so that the project's own test suite can load it.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import operator as op
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

Effect = Literal["Allow", "Deny"]
Outcome = Literal["allow", "explicit-deny", "implicit-deny"]
#: Request context: condition key (any case) -> its values (one for single-valued keys).
Context = Mapping[str, Sequence[str]]


class PolicyError(ValueError):
    """A policy document this evaluator cannot read."""


@dataclass(frozen=True)
class Statement:
    """One statement of one policy; ``policy`` names the policy it came from."""

    policy: str
    index: int
    sid: str
    effect: Effect
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] | None = None
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    @property
    def label(self) -> str:
        """``policy#Sid`` (or ``policy#3`` for a statement without a Sid)."""
        return f"{self.policy}#{self.sid or self.index}"


@dataclass(frozen=True)
class Check:
    """One authorization question: may the principal do ``action`` on ``resource``?"""

    action: str
    resource: str
    context: Context = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    check: Check
    #: The statement that decided: the explicit Deny, or the first Allow; None for implicit deny.
    statement: Statement | None = None
    #: Every Allow statement that matched (all count as "used" for the least-privilege report).
    allowed_by: tuple[Statement, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.outcome == "allow"


def parse_policy(name: str, document: str | Mapping[str, Any]) -> tuple[Statement, ...]:
    """The statements of one policy document (JSON text or already parsed)."""
    if isinstance(document, str):
        return _parse_policy_text(name, document)
    return _parse_document(name, document)


@lru_cache(maxsize=512)
def _parse_policy_text(name: str, text: str) -> tuple[Statement, ...]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise PolicyError(f"policy {name}: not JSON: {error}") from error
    return _parse_document(name, document)


def _parse_document(name: str, document: Mapping[str, Any]) -> tuple[Statement, ...]:
    if not isinstance(document, Mapping):
        raise PolicyError(f"policy {name}: the document is not an object")
    raw = document.get("Statement", [])
    items = [raw] if isinstance(raw, Mapping) else list(raw)
    return tuple(_parse_statement(name, index, item) for index, item in enumerate(items))


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, bool, int, float)):
        return (_scalar(value),)
    return tuple(_scalar(item) for item in value)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _parse_statement(policy: str, index: int, item: Mapping[str, Any]) -> Statement:
    effect = item.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"policy {policy}, statement {index}: Effect must be Allow or Deny")
    conditions: list[tuple[str, str, tuple[str, ...]]] = []
    for operator, block in (item.get("Condition") or {}).items():
        if not isinstance(block, Mapping):
            raise PolicyError(f"policy {policy}, statement {index}: {operator} is not an object")
        for key, values in block.items():
            conditions.append((operator, key, _strings(values)))
    return Statement(
        policy=policy,
        index=index,
        sid=str(item.get("Sid") or ""),
        effect=effect,
        actions=_strings(item.get("Action")),
        not_actions=_strings(item["NotAction"]) if "NotAction" in item else None,
        resources=_strings(item.get("Resource")),
        not_resources=_strings(item["NotResource"]) if "NotResource" in item else None,
        conditions=tuple(conditions),
    )


def evaluate(statements: Iterable[Statement], check: Check) -> Decision:
    """AWS's decision for one principal's identity policies: a matching Deny wins; otherwise
    a matching Allow allows; otherwise the request is implicitly denied."""
    allows: list[Statement] = []
    for statement in statements:
        if not matches(statement, check):
            continue
        if statement.effect == "Deny":
            return Decision("explicit-deny", check, statement)
        allows.append(statement)
    if allows:
        return Decision("allow", check, allows[0], tuple(allows))
    return Decision("implicit-deny", check)


def matches(statement: Statement, check: Check) -> bool:
    """Whether the statement applies to the request (action, resource and every condition)."""
    if statement.not_actions is not None:
        if any(action_matches(p, check.action) for p in statement.not_actions):
            return False
    elif not any(action_matches(p, check.action) for p in statement.actions):
        return False
    context = _lower_keys(check.context)
    if statement.not_resources is not None:
        if any(
            resource_matches(_substitute(p, context), check.resource)
            for p in statement.not_resources
        ):
            return False
    elif not any(
        resource_matches(_substitute(p, context), check.resource) for p in statement.resources
    ):
        return False
    return all(
        condition_holds(operator, key, values, context)
        for operator, key, values in statement.conditions
    )


# ------------------------------------------------------------------ Action and Resource


@lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """``*`` any run of characters, ``?`` any one character, everything else literal."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _like(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    """Action names are case-insensitive (``s3:getobject`` is ``s3:GetObject``)."""
    return _like(pattern, action, ignore_case=True)


def resource_matches(pattern: str | None, arn: str) -> bool:
    """ARN matching with wildcards: the partition, service, region and account segments are
    matched one by one; the resource part (after the fifth colon) as a whole, so ``*`` there
    spans ``/`` and ``:`` (``…:log-group:/aws/lambda/f:*`` covers the group's log streams)."""
    if pattern is None:
        return False
    if pattern == "*":
        return True
    pattern_parts = pattern.split(":", 5)
    arn_parts = arn.split(":", 5)
    if len(pattern_parts) != 6 or len(arn_parts) != 6:
        return _like(pattern, arn)
    return all(_like(p, a) for p, a in zip(pattern_parts, arn_parts, strict=True))


# ------------------------------------------------------------------ policy variables

_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def _lower_keys(context: Context) -> dict[str, Sequence[str]]:
    return {key.lower(): values for key, values in context.items()}


def _substitute(text: str, context: Mapping[str, Sequence[str]]) -> str | None:
    """Replaces ``${key}`` (and ``${key, 'default'}``, ``${*}``, ``${?}``, ``${$}``) with the
    request's value; None when a variable has no single value and no default (the element
    then matches nothing)."""
    if "${" not in text:
        return text
    missing = False

    def replace(match: re.Match[str]) -> str:
        nonlocal missing
        inner = match.group(1).strip()
        if inner in ("*", "?", "$"):
            return inner
        key, _, default = inner.partition(",")
        values = context.get(key.strip().lower())
        if values and len(values) == 1:
            return values[0]
        default = default.strip()
        if len(default) >= 2 and default[0] == default[-1] == "'":
            return default[1:-1]
        missing = True
        return ""

    result = _VARIABLE.sub(replace, text)
    return None if missing else result


# ------------------------------------------------------------------ conditions

_NEGATED = {
    "StringNotEquals",
    "StringNotEqualsIgnoreCase",
    "StringNotLike",
    "NumericNotEquals",
    "DateNotEquals",
    "NotIpAddress",
    "ArnNotEquals",
    "ArnNotLike",
}
#: Negated operator -> the positive test it negates.
_POSITIVE_OF = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def condition_holds(  # noqa: PLR0911 - the operator reference's cases, one by one
    operator: str, key: str, policy_values: Sequence[str], context: Mapping[str, Sequence[str]]
) -> bool:
    """One key of one condition operator, as the condition-operator reference defines it
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
    ``context`` keys are lower case."""
    set_operator = ""
    if ":" in operator:
        set_operator, operator = operator.split(":", 1)
        if set_operator not in ("ForAnyValue", "ForAllValues"):
            raise PolicyError(f"unknown condition set operator {set_operator}")
    if_exists = operator.endswith("IfExists") and operator != "IfExists"
    base = operator.removesuffix("IfExists") if if_exists else operator
    values = context.get(key.lower())
    present = values is not None and len(values) > 0

    if base == "Null":
        # "true": the key must be absent; "false": present.
        want_absent = any(v.lower() == "true" for v in policy_values)
        return (not present) if want_absent else present

    if not present:
        if if_exists:
            return True
        if set_operator == "ForAllValues":
            return True
        if set_operator == "ForAnyValue":
            return False
        # A missing key does not match; a negated operator then holds.
        return base in _NEGATED
    assert values is not None

    negated = base in _NEGATED
    positive = _POSITIVE_OF.get(base, base)
    expanded = [v for p in policy_values if (v := _substitute(p, context)) is not None]

    def value_passes(value: str) -> bool:
        hit = any(_compare(positive, value, p) for p in expanded)
        return not hit if negated else hit

    if set_operator == "ForAllValues":
        return all(value_passes(v) for v in values)
    if set_operator == "ForAnyValue":
        return any(value_passes(v) for v in values)
    if negated:
        return all(value_passes(v) for v in values)
    return any(value_passes(v) for v in values)


def _compare(name: str, value: str, expected: str) -> bool:  # noqa: PLR0911
    match name:
        case "StringEquals":
            return value == expected
        case "StringEqualsIgnoreCase":
            return value.lower() == expected.lower()
        case "StringLike":
            return _like(expected, value)
        case "ArnEquals" | "ArnLike":
            return resource_matches(expected, value) if ":" in value else False
        case "Bool":
            return value.lower() == expected.lower()
        case "BinaryEquals":
            return base64.b64decode(expected) == base64.b64decode(value)
        case "IpAddress":
            return _in_network(value, expected)
        case (
            "NumericEquals"
            | "NumericLessThan"
            | "NumericLessThanEquals"
            | "NumericGreaterThan"
            | "NumericGreaterThanEquals"
        ):
            return _ordered(name.removeprefix("Numeric"), _number(value), _number(expected))
        case (
            "DateEquals"
            | "DateLessThan"
            | "DateLessThanEquals"
            | "DateGreaterThan"
            | "DateGreaterThanEquals"
        ):
            return _ordered(name.removeprefix("Date"), _date(value), _date(expected))
    raise PolicyError(f"unsupported condition operator {name}")


_RELATIONS: dict[str, Callable[[float, float], bool]] = {
    "Equals": op.eq,
    "LessThan": op.lt,
    "LessThanEquals": op.le,
    "GreaterThan": op.gt,
    "GreaterThanEquals": op.ge,
}


def _ordered(relation: str, left: float | None, right: float | None) -> bool:
    if left is None or right is None:
        return False
    return _RELATIONS[relation](left, right)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> float | None:
    """ISO 8601 or epoch seconds, as seconds since the epoch."""
    number = _number(text)
    if number is not None:
        return number
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _in_network(address: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False
