"""``mhealth local iam-report``: actions used and statements never used, from the IAM journal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mhealth.local.iam_report import format_report, load_journal, read_journal, report_as_json

ROLE = "arn:aws:iam::000000000000:role/convert"


def _lines() -> list[str]:
    statements = [
        {"label": "convert#ReadRaw", "effect": "Allow", "actions": ["s3:GetObject"],
         "resources": ["arn:aws:s3:::b/raw/*"]},
        {"label": "convert#WriteStage", "effect": "Allow", "actions": ["s3:PutObject"],
         "resources": ["arn:aws:s3:::b/stage/*"]},
        {"label": "convert#WriteQuarantine", "effect": "Allow", "actions": ["s3:PutObject"],
         "resources": ["arn:aws:s3:::b/quarantine/*"]},
    ]  # fmt: skip
    decisions = [
        ("s3:GetObject", "arn:aws:s3:::b/raw/a", "allow", ["convert#ReadRaw"]),
        ("s3:GetObject", "arn:aws:s3:::b/raw/b", "allow", ["convert#ReadRaw"]),
        ("s3:PutObject", "arn:aws:s3:::b/stage/a", "allow", ["convert#WriteStage"]),
        ("s3:PutObject", "arn:aws:s3:::b/other/a", "implicit-deny", []),
    ]
    records: list[dict[str, object]] = [
        {"kind": "policies", "role": ROLE, "statements": statements}
    ]
    records += [
        {"kind": "decision", "role": ROLE, "action": a, "resource": r, "outcome": o,
         "statement": by[0] if by else None, "allowed_by": by}
        for a, r, o, by in decisions
    ]  # fmt: skip
    return [json.dumps(record) for record in records]


def test_report_counts_actions_and_lists_statements_no_request_needed() -> None:
    roles = read_journal(_lines())
    usage = roles[ROLE]
    assert usage.outcomes[("s3:GetObject", "allow")] == 2
    assert usage.denied == [("s3:PutObject", "implicit-deny", 1)]
    assert [s["label"] for s in usage.unused_statements] == ["convert#WriteQuarantine"]
    text = format_report(roles)
    assert "s3:GetObject" in text and "2 allow" in text
    assert "1 allow, 1 implicit-deny" in text
    assert "convert#WriteQuarantine: Allow s3:PutObject on arn:aws:s3:::b/quarantine/*" in text
    assert report_as_json(roles)[ROLE]["unused_statements"] == ["convert#WriteQuarantine"]


def test_missing_journal_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="MHEALTH_IAM=enforce or log"):
        load_journal(tmp_path / "iam-decisions.jsonl")


def test_a_broken_line_is_reported_with_its_number() -> None:
    with pytest.raises(ValueError, match="line 2"):
        read_journal([_lines()[0], "{not json"])
