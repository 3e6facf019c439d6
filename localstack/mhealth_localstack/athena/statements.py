"""Athena statements by kind: StatementType, and the SHOW/DESCRIBE statements parsed.

Answered from the Glue Data Catalog: ``SHOW TABLES [IN db] [LIKE 'pattern' | 'regex']``,
``SHOW DATABASES|SCHEMAS [LIKE 'pattern']``, ``SHOW COLUMNS IN|FROM table``, ``DESCRIBE table``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Final

from mhealth_localstack.athena.errors import QueryError
from mhealth_localstack.athena.text import IDENT, QUALIFIED, split_identifiers, strip_comments


class StatementType(Enum):
    """Athena's StatementType of a query."""

    DML = "DML"
    DDL = "DDL"
    UTILITY = "UTILITY"


class DdlKind(Enum):
    """The metadata statements answered from the Glue Data Catalog."""

    SHOW_TABLES = "SHOW_TABLES"
    SHOW_DATABASES = "SHOW_DATABASES"
    SHOW_COLUMNS = "SHOW_COLUMNS"
    DESCRIBE = "DESCRIBE"


@dataclass(frozen=True)
class DdlStatement:
    """A parsed metadata statement: ``database``/``table`` may be None (context database)."""

    kind: DdlKind
    database: str | None = None
    table: str | None = None
    like: str | None = None
    regex: str | None = None


_LIKE: Final = r"(?:\s+LIKE\s+'(?P<like>(?:[^']|'')*)')?"
# SHOW TABLES also takes its pattern without LIKE, as a regular expression.
_LIKE_OR_REGEX: Final = r"(?:\s+LIKE\s+'(?P<like>(?:[^']|'')*)'|\s+'(?P<regex>(?:[^']|'')*)')?"
_DDL_PATTERNS: Final = (
    (
        DdlKind.SHOW_TABLES,
        re.compile(
            rf"SHOW\s+TABLES(?:\s+(?:IN|FROM)\s+(?P<db>{QUALIFIED}))?"
            rf"{_LIKE_OR_REGEX}\s*;?\s*$",
            re.I | re.S,
        ),
    ),
    (
        DdlKind.SHOW_DATABASES,
        re.compile(rf"SHOW\s+(?:DATABASES|SCHEMAS){_LIKE}\s*;?\s*$", re.I | re.S),
    ),
    (
        DdlKind.SHOW_COLUMNS,
        re.compile(
            rf"SHOW\s+COLUMNS\s+(?:IN|FROM)\s+(?P<tbl>{QUALIFIED})"
            rf"(?:\s+(?:IN|FROM)\s+(?P<db>{IDENT}))?\s*;?\s*$",
            re.I | re.S,
        ),
    ),
    (
        DdlKind.DESCRIBE,
        re.compile(
            rf"DESC(?:RIBE)?\s+(?:FORMATTED\s+|EXTENDED\s+)?"
            rf"(?P<tbl>{QUALIFIED})\s*;?\s*$",
            re.I | re.S,
        ),
    ),
)
_DML_KEYWORDS: Final = frozenset({"SELECT", "WITH", "VALUES", "TABLE", "EXPLAIN", "(", "FROM"})


def parse_ddl(sql: str) -> DdlStatement | None:
    """The metadata statement in ``sql``, or None when it is not one we answer from the catalog."""
    text = strip_comments(sql)
    for kind, pattern in _DDL_PATTERNS:
        match = pattern.match(text)
        if not match:
            continue
        groups = match.groupdict()
        like, regex = (
            None if groups.get(name) is None else groups[name].replace("''", "'")
            for name in ("like", "regex")
        )
        database = None
        table = None
        if groups.get("tbl"):
            names = split_identifiers(groups["tbl"])
            table = names[-1]
            database = names[-2] if len(names) > 1 else None
        if groups.get("db"):
            database = split_identifiers(groups["db"])[-1]
        return DdlStatement(kind=kind, database=database, table=table, like=like, regex=regex)
    return None


def statement_type(sql: str) -> StatementType:
    """DML for queries, DDL for catalog statements (Athena's classification, by first keyword)."""
    text = strip_comments(sql)
    first = re.match(r"\(|\w+", text)
    keyword = first.group(0).upper() if first else ""
    if keyword in _DML_KEYWORDS or keyword in {"INSERT", "UPDATE", "DELETE", "MERGE", "UNLOAD"}:
        return StatementType.DML
    if keyword in {"SHOW", "DESCRIBE", "DESC", "CREATE", "DROP", "ALTER", "MSCK"}:
        return StatementType.DDL
    return StatementType.UTILITY


# Athena's SubstatementType by leading words (the longest match wins).
_SUBSTATEMENTS: Final = (
    (r"CREATE\s+EXTERNAL\s+TABLE", "CREATE_TABLE"),
    (r"CREATE\s+TABLE\b.*\bAS\b", "CREATE_TABLE_AS_SELECT"),
    (r"CREATE\s+TABLE", "CREATE_TABLE"),
    (r"CREATE\s+(OR\s+REPLACE\s+)?VIEW", "CREATE_VIEW"),
    (r"DROP\s+TABLE", "DROP_TABLE"),
    (r"DROP\s+VIEW", "DROP_VIEW"),
    (r"ALTER\s+TABLE\s+\S+\s+ADD", "ALTER_TABLE_ADD_PARTITION"),
    (r"ALTER\s+TABLE\s+\S+\s+DROP", "ALTER_TABLE_DROP_PARTITION"),
    (r"MSCK\s+REPAIR", "MSCK_REPAIR_TABLE"),
    (r"SHOW\s+PARTITIONS", "SHOW_PARTITIONS"),
    (r"SHOW\s+CREATE\s+TABLE", "SHOW_CREATE_TABLE"),
    (r"SHOW\s+CREATE\s+VIEW", "SHOW_CREATE_VIEW"),
    (r"UNLOAD", "UNLOAD"),
    (r"INSERT", "INSERT"),
)


def substatement_type(sql: str) -> str:
    """Athena's SubstatementType of a statement (``SELECT``, ``CREATE_TABLE_AS_SELECT``, …)."""
    ddl = parse_ddl(sql)
    if ddl is not None:
        return ddl.kind.value
    text = strip_comments(sql)
    for pattern, name in _SUBSTATEMENTS:
        if re.match(pattern, text, re.I | re.S):
            return name
    return "SELECT" if statement_type(sql) is StatementType.DML else "UNKNOWN"


def like_to_regex(pattern: str) -> re.Pattern[str]:
    """Athena's SHOW ... LIKE pattern (``*`` wildcard, ``|`` alternatives) as a regex."""
    alternatives = [
        ".*".join(re.escape(piece) for piece in alternative.strip().split("*"))
        for alternative in pattern.split("|")
    ]
    return re.compile("|".join(f"(?:{alt})" for alt in alternatives), re.I)


def table_regex(pattern: str) -> re.Pattern[str]:
    """Athena's ``SHOW TABLES 'regex'`` pattern, matched case-insensitively.

    As Athena documents, ``*`` is a wildcard like ``.*`` (a ``*`` after ``.``, ``\\``, ``)`` or
    ``]`` stays a regex quantifier); QueryError when the expression is malformed.
    """
    try:
        return re.compile(re.sub(r"(?<![.\\)\]])\*", ".*", pattern), re.I)
    except re.error as error:
        raise QueryError(
            "INVALID_FUNCTION_ARGUMENT", f"Invalid regular expression: {error}"
        ) from error
