"""SQL text helpers shared by the Athena layers: identifiers, comments, source positions."""

from __future__ import annotations

import re
from typing import Final

IDENT: Final = r'(?:"(?:[^"]|"")+"|`[^`]+`|[A-Za-z_][A-Za-z0-9_$@-]*)'
QUALIFIED: Final = rf"{IDENT}(?:\s*\.\s*{IDENT}){{0,2}}"
_COMMENTS: Final = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)


def split_identifiers(text: str) -> list[str]:
    """The names of a dotted name (``"db".tbl`` → ``["db", "tbl"]``), unquoted, lower case."""
    parts = re.findall(IDENT, text)
    return [unquote(part) for part in parts]


def unquote(identifier: str) -> str:
    """An identifier as the catalog names it: quotes removed, lower case (Athena folds case)."""
    if identifier.startswith('"') and identifier.endswith('"'):
        return identifier[1:-1].replace('""', '"').lower()
    if identifier.startswith("`") and identifier.endswith("`"):
        return identifier[1:-1].lower()
    return identifier.lower()


def strip_comments(sql: str) -> str:
    """The SQL text without comments and surrounding blanks (for keyword checks only)."""
    return _COMMENTS.sub(" ", sql).strip()


def line_column(sql: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset (1:1 when the offset is unknown)."""
    if offset < 0 or offset > len(sql):
        return 1, 1
    before = sql[:offset]
    line = before.count("\n") + 1
    column = offset - (before.rfind("\n") + 1) + 1
    return line, column
