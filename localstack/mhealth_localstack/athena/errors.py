"""Athena's query errors: the QueryError a failed query reports, DuckDB's errors translated."""

from __future__ import annotations

import itertools
import re
import unicodedata
from typing import Final

import duckdb

from mhealth_localstack.athena.text import line_column, unquote


class QueryError(Exception):
    """A query failure in Athena's words: ``<ERROR_CODE>: <message>``, user or system fault."""

    def __init__(self, code: str, message: str, *, user_error: bool = True) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.user_error = user_error


_DUCKDB_ERROR_PREFIX: Final = re.compile(r"^[A-Za-z ]+ Error: ", re.S)
# DuckDB's error context: the query line (a window of it, "..."-cropped, when long) and a caret.
_ERROR_CARET: Final = re.compile(r"^(LINE (\d+): )(.*)\n( *)\^", re.M)
_UNKNOWN_FUNCTION: Final = re.compile(
    r"^(?:Scalar|Aggregate) Function with name (.+?) does not exist!"
)


def _render_width(character: str) -> int:
    """The terminal width DuckDB counts for a character when it places its caret."""
    if unicodedata.category(character) in {"Cc", "Cf", "Mn", "Me"}:
        return 0
    return 2 if unicodedata.east_asian_width(character) in {"W", "F"} else 1


def _error_position(error_text: str, query: str | None) -> str:
    """``line L:C: `` where DuckDB's caret points (Trino's form), or "" when it cannot be placed."""
    caret = _ERROR_CARET.search(error_text)
    if not caret:
        return ""
    prefix, number, shown, indent = caret.groups()
    line = int(number)
    width = len(indent) - len(prefix)
    start = 0
    if shown.startswith("..."):
        # A long line is shown as a window: find the window in the query's own line.
        lines = (query or "").split("\n")
        window = shown[3:].removesuffix("...")
        start = lines[line - 1].find(window) if 0 < line <= len(lines) else -1
        if start < 0 or not window:
            return ""
        shown, width = window, width - 3
    column = 0  # characters before the caret: those of its width, and zero-width ones (tabs)
    while column < len(shown) and (width > 0 or _render_width(shown[column]) == 0):
        width -= _render_width(shown[column])
        column += 1
    return f"line {line}:{start + column + 1}: "


_NAME_TOKENS: Final = frozenset({duckdb.token_type.identifier, duckdb.token_type.keyword})


def _call_position(query: str | None, name: str) -> str:
    """``line L:C: `` of the first call of function ``name`` in the query text, or "".

    DuckDB's relation API reports binder and catalog errors without their position.
    """
    if not query:
        return ""
    tokens = [
        (start, kind)
        for start, kind in duckdb.tokenize(query)
        if kind is not duckdb.token_type.comment
    ]
    for (start, kind), (end, _) in itertools.pairwise(tokens):
        called = kind in _NAME_TOKENS and query.startswith("(", end)
        if called and unquote(query[start:end].strip()) == name:
            line, column = line_column(query, start)
            return f"line {line}:{column}: "
    return ""


# DuckDB's binder message for an arithmetic operator over types it cannot combine.
_OPERATOR_TYPES: Final = re.compile(
    r"""(?:function call "|argument types ')([-+*/%])\(([A-Z_ ]+(?:\([\d, ]+\))?), """
    r"""([A-Z_ ]+(?:\([\d, ]+\))?)\)"""
)
_TRINO_OPERANDS: Final = {
    "STRING_LITERAL": "varchar",
    "INTEGER_LITERAL": "integer",
    "FLOAT": "real",
    "TIMESTAMP": "timestamp(3)",
}


def _trino_operand(duckdb_type: str) -> str:
    return _TRINO_OPERANDS.get(duckdb_type, duckdb_type.lower())


def translate_error(error: duckdb.Error, query: str | None = None) -> QueryError:  # noqa: PLR0911
    """DuckDB's exception as Athena reports a failed query (error code prefix, no DuckDB banner).

    ``query`` (the text DuckDB ran) places the position of an error shown in a long line.
    """
    text = str(error)
    message = _DUCKDB_ERROR_PREFIX.sub("", text).strip()
    message = re.sub(r"\n\s*\n.*$", "", message, flags=re.S)  # drop DuckDB's "LINE 1: ..." caret
    message = " ".join(message.split())
    column = re.search(r'Referenced column "([^"]+)" (?:was )?not found', message)
    if column:
        return QueryError(
            "COLUMN_NOT_FOUND", f"Column '{column.group(1)}' cannot be resolved ({message})"
        )
    operator = _OPERATOR_TYPES.search(message)
    if operator and isinstance(error, duckdb.BinderException):
        symbol, left, right = operator.groups()
        return QueryError(
            "TYPE_MISMATCH",
            f"{_error_position(text, query)}Cannot apply operator: "
            f"{_trino_operand(left)} {symbol} {_trino_operand(right)}",
        )
    function = _UNKNOWN_FUNCTION.match(message)
    if function and isinstance(error, duckdb.CatalogException):
        name = function.group(1)
        position = _error_position(text, query) or _call_position(query, name)
        return QueryError("FUNCTION_NOT_FOUND", f"{position}Function '{name}' not registered")
    if isinstance(error, duckdb.ParserException | duckdb.BinderException | duckdb.CatalogException):
        return QueryError("SYNTAX_ERROR", _error_position(text, query) + message)
    if isinstance(error, duckdb.ConversionException):
        return QueryError("INVALID_CAST_ARGUMENT", message)
    if isinstance(error, duckdb.OutOfRangeException):
        return QueryError("NUMERIC_VALUE_OUT_OF_RANGE", message)
    if isinstance(error, duckdb.InvalidInputException):
        if "Division by zero" in message:
            return QueryError("DIVISION_BY_ZERO", "Division by zero")
        return QueryError("INVALID_FUNCTION_ARGUMENT", message)
    if isinstance(error, duckdb.OutOfMemoryException):
        return QueryError("EXCEEDED_LOCAL_MEMORY_LIMIT", message, user_error=False)
    return QueryError("GENERIC_INTERNAL_ERROR", message, user_error=False)
