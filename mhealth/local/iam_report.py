"""``mhealth local iam-report``: per role, the actions its requests used and the policy
statements no request needed (the next least-privilege cut), from the local AWS's IAM journal.

The journal (``<state dir>/iam-decisions.jsonl``, written by the LocalStack extension with
``MHEALTH_IAM=enforce`` or ``log``) holds one JSON object a line: ``{"kind": "policies", "role",
"statements": [{"label", "effect", "actions", "resources"}]}`` whenever a role's policies are
first seen or change, and ``{"kind": "decision", "role", "action", "resource", "outcome",
"statement", "allowed_by"}`` for every check of every request.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RoleUsage:
    """What one role's sessions did: (action, outcome) counts and statements that mattered."""

    role: str
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    resources: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    used_statements: set[str] = field(default_factory=set)
    statements: list[dict[str, Any]] = field(default_factory=list)

    @property
    def unused_statements(self) -> list[dict[str, Any]]:
        return [s for s in self.statements if s["label"] not in self.used_statements]

    @property
    def denied(self) -> list[tuple[str, str, int]]:
        return sorted(
            (action, outcome, count)
            for (action, outcome), count in self.outcomes.items()
            if outcome != "allow"
        )


def read_journal(lines: Iterable[str]) -> dict[str, RoleUsage]:
    """Roles in the journal, by role ARN; a role's statements are its latest policies."""
    roles: dict[str, RoleUsage] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"journal line {number} is not JSON: {error}") from error
        role = str(record.get("role") or "")
        usage = roles.setdefault(role, RoleUsage(role))
        if record.get("kind") == "policies":
            usage.statements = list(record.get("statements") or [])
        elif record.get("kind") == "decision":
            action = str(record["action"])
            usage.outcomes[(action, str(record["outcome"]))] += 1
            usage.resources[action].add(str(record["resource"]))
            usage.used_statements.update(record.get("allowed_by") or [])
            if record.get("outcome") == "explicit-deny" and record.get("statement"):
                usage.used_statements.add(str(record["statement"]))
    return roles


def load_journal(path: Path) -> dict[str, RoleUsage]:
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist: start the local AWS with MHEALTH_IAM=enforce or log "
            "(`mhealth local up`) and run the pipeline first."
        )
    with path.open(encoding="utf-8") as source:
        return read_journal(source)


def format_report(roles: dict[str, RoleUsage]) -> str:
    """Plain text, one block per role."""
    if not roles:
        return "No requests signed with a role's credentials were recorded.\n"
    out: list[str] = []
    for arn in sorted(roles):
        usage = roles[arn]
        out.append(f"Role {arn}")
        per_action: defaultdict[str, Counter[str]] = defaultdict(Counter)
        for (action, outcome), count in usage.outcomes.items():
            per_action[action][outcome] += count
        out.append("  actions used:")
        if not per_action:
            out.append("    (none)")
        for action in sorted(per_action):
            counts = per_action[action]
            parts = [
                f"{counts[o]} {o}" for o in ("allow", "implicit-deny", "explicit-deny") if counts[o]
            ]
            out.append(
                f"    {action:<36} {', '.join(parts)}  ({len(usage.resources[action])} resource(s))"
            )
        unused = usage.unused_statements
        out.append("  statements never used:" + ("" if unused else " none"))
        for statement in unused:
            out.append(
                f"    {statement['label']}: {statement['effect']} "
                f"{', '.join(statement['actions'])} on {', '.join(statement['resources'])}"
            )
        out.append("")
    return "\n".join(out)


def report_as_json(roles: dict[str, RoleUsage]) -> dict[str, Any]:
    return {
        arn: {
            "actions": {
                f"{action} {outcome}": count
                for (action, outcome), count in sorted(usage.outcomes.items())
            },
            "unused_statements": [s["label"] for s in usage.unused_statements],
        }
        for arn, usage in sorted(roles.items())
    }
