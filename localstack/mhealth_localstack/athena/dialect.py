"""Trino (Athena engine 3) SQL on DuckDB: session settings, Trino functions, query rewriting.

* Tables: ``"db"."table"``, ``awsdatacatalog.db.table``, unqualified ``table`` (context database).
* Integer division truncates like Trino (``5/2 = 2``); division by zero fails like Trino.
* Trino functions DuckDB lacks or defines differently are added as SQL macros (``TRINO_MACROS``)
  or, for ``date_parse`` (whose format DuckDB needs as a constant literal), rewritten in the query
  text to ``strptime``: ``regexp_like``, ``regexp_replace`` (all matches, ``$1`` group references),
  ``approx_distinct``,
  ``approx_percentile``, ``date_add``/``date_diff`` (unit first), ``date_format``/``date_parse``
  (MySQL format letters), ``date``, ``from_unixtime``, ``to_unixtime``, ``from_iso8601_timestamp``,
  ``from_iso8601_date``, ``to_iso8601``, ``day_of_week``/``dow``, ``day_of_year``/``doy``,
  ``day_of_month``, ``week_of_year``, ``year_of_week``/``yow``, ``json_extract_scalar``,
  ``json_parse``, ``json_format``, ``is_nan``, ``nan``, ``infinity``, ``truncate``,
  ``cardinality`` (arrays), ``array_join``, ``sequence``, ``levenshtein_distance``, ``arbitrary``.
* Output column names follow Trino: an unaliased expression is ``_col<position>``.

Known differences: DuckDB coerces types more freely than Trino (``varchar = integer`` works),
``date_add`` on a date returns a timestamp, ``element_at`` works on maps only, and a DOUBLE divided
by zero fails (Trino gives Infinity or NaN): with ``integer_division`` DuckDB's ``/`` is ``//``,
which raises on zero for every type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import duckdb

from mhealth_localstack.athena.errors import QueryError
from mhealth_localstack.athena.text import line_column

DEFAULT_CATALOG: Final = "awsdatacatalog"

# MySQL date format letters (Trino's date_format/date_parse) → strftime letters, applied in this
# order so that a replacement never produces a letter a later rule rewrites again.
_MYSQL_FORMAT_RULES: Final = (
    ("%M", "%B"),  # month name (must run before %i → %M)
    ("%W", "%A"),  # weekday name
    ("%i", "%M"),  # minutes
    ("%s", "%S"),  # seconds
    ("%T", "%H:%M:%S"),
    ("%r", "%I:%M:%S %p"),
    ("%h", "%I"),
    ("%c", "%-m"),
    ("%e", "%-d"),
    ("%k", "%-H"),
    ("%l", "%-I"),
    ("%v", "%V"),
)


def mysql_to_strftime(fmt: str) -> str:
    """A MySQL/Trino date format (``%Y-%m-%d %H:%i:%s``) in strftime letters."""
    for mysql, strf in _MYSQL_FORMAT_RULES:
        fmt = fmt.replace(mysql, strf)
    return fmt


def _mysql_format(arg: str) -> str:
    expression = arg
    for mysql, strf in _MYSQL_FORMAT_RULES:
        expression = f"replace({expression}, '{mysql}', '{strf}')"
    return expression


# Created as temporary macros on every query connection; a macro shadows DuckDB's function of the
# same name, which is what we want where Trino's definition differs.
TRINO_MACROS: Final[tuple[str, ...]] = (
    "CREATE MACRO regexp_like(s, p) AS regexp_matches(s, p)",
    # Trino replaces every match and writes group references as $1; DuckDB wants 'g' and \1.
    "CREATE MACRO regexp_replace(s, p) AS system.main.regexp_replace(s, p, '', 'g'),"
    " (s, p, r) AS system.main.regexp_replace(s, p,"
    " system.main.regexp_replace(r, '\\$(\\d)', '\\\\\\1', 'g'), 'g')",
    "CREATE MACRO approx_distinct(x) AS approx_count_distinct(x)",
    "CREATE MACRO approx_percentile(x, p) AS approx_quantile(x, p)",
    "CREATE MACRO arbitrary(x) AS any_value(x)",
    "CREATE MACRO date_add(unit, n, t) AS t + CAST(CAST(n AS VARCHAR) || ' ' || unit AS INTERVAL)",
    # Trino counts whole units elapsed, which is DuckDB's date_sub (date_diff counts boundaries).
    "CREATE MACRO date_diff(unit, a, b) AS system.main.date_sub(unit, a, b)",
    f"CREATE MACRO date_format(t, f) AS strftime(t, {_mysql_format('f')})",
    "CREATE MACRO date(x) AS CAST(x AS DATE)",
    "CREATE MACRO from_unixtime(x) AS make_timestamp(CAST(round(x * 1000000) AS BIGINT))",
    "CREATE MACRO to_unixtime(t) AS epoch(t)",
    "CREATE MACRO from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMPTZ)",
    "CREATE MACRO from_iso8601_date(s) AS CAST(s AS DATE)",
    "CREATE MACRO to_iso8601(t) AS strftime(t, '%Y-%m-%dT%H:%M:%S.%g')",
    "CREATE MACRO day_of_week(t) AS isodow(t)",
    "CREATE MACRO dow(t) AS isodow(t)",
    "CREATE MACRO day_of_year(t) AS dayofyear(t)",
    "CREATE MACRO doy(t) AS dayofyear(t)",
    "CREATE MACRO day_of_month(t) AS dayofmonth(t)",
    "CREATE MACRO week_of_year(t) AS week(t)",
    "CREATE MACRO year_of_week(t) AS isoyear(t)",
    "CREATE MACRO yow(t) AS isoyear(t)",
    "CREATE MACRO json_extract_scalar(j, p) AS json_extract_string(j, p)",
    "CREATE MACRO json_parse(s) AS CAST(s AS JSON)",
    "CREATE MACRO json_format(j) AS CAST(j AS VARCHAR)",
    "CREATE MACRO is_nan(x) AS isnan(x)",
    "CREATE MACRO nan() AS CAST('NaN' AS DOUBLE)",
    "CREATE MACRO infinity() AS CAST('Infinity' AS DOUBLE)",
    "CREATE MACRO truncate(x) AS trunc(x)",
    "CREATE MACRO cardinality(a) AS len(a)",
    "CREATE MACRO array_join(a, sep) AS array_to_string(a, sep)",
    "CREATE MACRO sequence(a, b) AS generate_series(a, b)",
    "CREATE MACRO levenshtein_distance(a, b) AS levenshtein(a, b)",
)

# Settings that make DuckDB behave like Trino for arithmetic and time.
SESSION_SETTINGS: Final[tuple[str, ...]] = (
    "SET integer_division = true",
    "SET TimeZone = 'UTC'",
)


@dataclass(frozen=True)
class TableRef:
    """A table named in a query, resolved against the query's context (lower-case names)."""

    catalog: str
    database: str
    table: str
    line: int
    column: int

    @property
    def qualified(self) -> str:
        return f"{self.catalog}.{self.database}.{self.table}"


@dataclass(frozen=True)
class SelectStatement:
    """A query DuckDB runs: its AST (DuckDB's JSON serialisation) and the tables it reads."""

    sql: str
    tables: tuple[TableRef, ...]
    select_items: tuple[dict[str, Any], ...]
    #: DuckDB's AST of ``sql`` when it is the text as parsed (None: serialise ``sql`` again).
    ast: dict[str, Any] | None = field(default=None, compare=False, repr=False)


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _cte_names(ast: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for node in _walk(ast):
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            names.update(str(entry.get("key", "")).lower() for entry in cte_map.get("map", []))
    return names


def _leftmost_select(node: dict[str, Any]) -> dict[str, Any] | None:
    while node.get("type") == "SET_OPERATION_NODE":
        # DuckDB 2 lists the operands in "children" (older versions: "left"/"right").
        node = node.get("left") or next(iter(node.get("children") or []), None) or {}
    return node if node.get("type") == "SELECT_NODE" else None


def serialize(connection: duckdb.DuckDBPyConnection, sql: str) -> dict[str, Any]:
    """DuckDB's JSON AST of ``sql``; raises QueryError(SYNTAX_ERROR) when DuckDB cannot parse it."""
    rows = connection.execute("SELECT json_serialize_sql($1)", [sql]).fetchall()
    result: dict[str, Any] = json.loads(rows[0][0]) if rows else {"error": True}
    if result.get("error"):
        message = str(result.get("error_message", "cannot parse the query"))
        position = result.get("position")
        if position is not None and str(position).isdigit():
            line, column = line_column(sql, int(position))
            message = f"line {line}:{column}: {message}"
        raise QueryError("SYNTAX_ERROR", message)
    return result


# Trino's reserved keywords: an identifier spelled like one must be double-quoted
# (https://trino.io/docs/current/language/reserved.html).
TRINO_RESERVED: Final = frozenset(
    [
        "ALTER",
        "AND",
        "AS",
        "BETWEEN",
        "BY",
        "CASE",
        "CAST",
        "CONSTRAINT",
        "CREATE",
        "CROSS",
        "CUBE",
        "CURRENT_CATALOG",
        "CURRENT_DATE",
        "CURRENT_PATH",
        "CURRENT_ROLE",
        "CURRENT_SCHEMA",
        "CURRENT_TIME",
        "CURRENT_TIMESTAMP",
        "CURRENT_USER",
        "DEALLOCATE",
        "DELETE",
        "DESCRIBE",
        "DISTINCT",
        "DROP",
        "ELSE",
        "END",
        "ESCAPE",
        "EXCEPT",
        "EXECUTE",
        "EXISTS",
        "EXTRACT",
        "FALSE",
        "FOR",
        "FROM",
        "FULL",
        "GROUP",
        "GROUPING",
        "HAVING",
        "IN",
        "INNER",
        "INSERT",
        "INTERSECT",
        "INTO",
        "IS",
        "JOIN",
        "JSON_ARRAY",
        "JSON_EXISTS",
        "JSON_OBJECT",
        "JSON_QUERY",
        "JSON_TABLE",
        "JSON_VALUE",
        "LEFT",
        "LIKE",
        "LISTAGG",
        "LOCALTIME",
        "LOCALTIMESTAMP",
        "NATURAL",
        "NORMALIZE",
        "NOT",
        "NULL",
        "ON",
        "OR",
        "ORDER",
        "OUTER",
        "PREPARE",
        "RECURSIVE",
        "RIGHT",
        "ROLLUP",
        "SELECT",
        "SKIP",
        "TABLE",
        "THEN",
        "TRIM",
        "TRUE",
        "UESCAPE",
        "UNION",
        "UNNEST",
        "USING",
        "VALUES",
        "WHEN",
        "WHERE",
        "WITH",
    ]
)


def check_identifiers(sql: str) -> None:
    """Fail like Trino on identifiers DuckDB accepts: backquotes, reserved words unquoted.

    ``SELECT `a``` and ``SELECT 1 AS order`` / ``t.order`` run on DuckDB; Trino's parser
    rejects them (backquotes are Hive DDL syntax only).
    """
    tokens = [
        (start, kind)
        for start, kind in duckdb.tokenize(sql)
        if kind is not duckdb.token_type.comment
    ]
    for index, (start, kind) in enumerate(tokens):
        end = tokens[index + 1][0] if index + 1 < len(tokens) else len(sql)
        word = sql[start:end].strip()
        line, column = line_column(sql, start)
        if kind is duckdb.token_type.identifier and word.startswith("`"):
            raise QueryError(
                "SYNTAX_ERROR",
                f"line {line}:{column}: backquoted identifiers are not supported; use double "
                "quotes to quote identifiers",
            )
        if kind is not duckdb.token_type.keyword or word.upper() not in TRINO_RESERVED:
            continue
        before = sql[tokens[index - 1][0] : start].strip().upper() if index else ""
        if before in {"AS", "."}:
            raise QueryError(
                "SYNTAX_ERROR",
                f"line {line}:{column}: mismatched input '{word}'. Expecting: <identifier>",
            )


def parse_select(
    connection: duckdb.DuckDBPyConnection, sql: str, *, catalog: str, database: str
) -> SelectStatement:
    """The query's AST facts: the catalog tables it reads and its top-level select items."""
    statements = duckdb.extract_statements(sql) if sql.strip() else []
    if len(statements) != 1:
        raise QueryError(
            "INVALID_INPUT" if statements else "SYNTAX_ERROR",
            "Only one sql statement is allowed. Got: " + str(len(statements)),
        )
    check_identifiers(sql)
    if statements[0].type == duckdb.StatementType.EXPLAIN:
        # DuckDB serialises SELECT only: read the tables of the explained query, with the
        # EXPLAIN [ANALYZE] prefix blanked out so that line:column stay those of the query text.
        explained = parse_select(
            connection, _explained_query(sql), catalog=catalog, database=database
        )
        return SelectStatement(sql=sql, tables=explained.tables, select_items=())
    ast = serialize(connection, sql)
    ctes = _cte_names(ast)
    tables: list[TableRef] = []
    seen: set[tuple[str, str, str]] = set()
    for node in _walk(ast):
        if node.get("type") != "BASE_TABLE":
            continue
        table = str(node.get("table_name", "")).lower()
        schema = str(node.get("schema_name") or "").lower()
        table_catalog = str(node.get("catalog_name") or "").lower()
        if not schema and not table_catalog and table in ctes:
            continue
        key = (table_catalog or catalog, schema or database, table)
        if key in seen:
            continue
        seen.add(key)
        line, column = line_column(sql, int(node.get("query_location", -1)))
        tables.append(TableRef(key[0], key[1], key[2], line, column))
    rewritten = _rewrite_date_parse(sql, ast)
    statement = ast["statements"][0]["node"]
    select = _leftmost_select(statement)
    items = tuple(select.get("select_list", [])) if select else ()
    return SelectStatement(
        sql=rewritten,
        tables=tuple(tables),
        select_items=items,
        ast=ast if rewritten == sql else None,
    )


def _explained_query(sql: str) -> str:
    """The query after ``EXPLAIN [ANALYZE]``, at its own offsets (the prefix blanked out)."""
    starts = [start for start, kind in duckdb.tokenize(sql) if kind != duckdb.token_type.comment]
    skip = 2 if len(starts) > 1 and sql[starts[1] :].upper().startswith("ANALYZE") else 1
    begin = starts[skip] if len(starts) > skip else len(sql)
    return re.sub(r"[^\n]", " ", sql[:begin]) + sql[begin:]


def _rewrite_date_parse(sql: str, ast: dict[str, Any]) -> str:
    """``date_parse(x, '<mysql format>')`` → ``strptime(x, '<strftime format>')`` in the text.

    Spliced at the AST's source offsets, so the rest of the query stays exactly as written.
    """
    edits: list[tuple[int, int, str]] = []
    for node in _walk(ast):
        if node.get("class") != "FUNCTION" or node.get("function_name") != "date_parse":
            continue
        start = int(node.get("query_location", -1))
        arguments = node.get("arguments") or []
        if len(arguments) != 2 or sql[start : start + 10].lower() != "date_parse":
            raise QueryError(
                "NOT_SUPPORTED",
                "date_parse needs two arguments, the second a string literal, in the local Athena",
            )
        fmt = arguments[1].get("expression") or {}
        literal = fmt.get("literal") or {}
        fmt_start = int(fmt.get("query_location", -1))
        fmt_end = fmt_start + int(fmt.get("query_location_length", 0))
        if literal.get("kind") != "STRING" or not sql[fmt_start:fmt_end].startswith("'"):
            raise QueryError(
                "NOT_SUPPORTED",
                "date_parse needs a string literal as its format in the local Athena",
            )
        converted = mysql_to_strftime(str(literal.get("text", ""))).replace("'", "''")
        edits.append((start, start + 10, "strptime"))
        edits.append((fmt_start, fmt_end, f"'{converted}'"))
    for begin, end, text in sorted(edits, reverse=True):
        sql = sql[:begin] + text + sql[end:]
    return sql


def output_names(items: Sequence[dict[str, Any]], duckdb_names: Sequence[str]) -> list[str]:
    """Trino's output column names: aliases and column names stay, expressions become _col<i>."""
    stars = sum(1 for item in items if item.get("class") == "STAR" and not item.get("alias"))
    if not items or stars > 1:
        return list(duckdb_names)
    expanded = len(duckdb_names) - (len(items) - stars)
    if expanded < 0 or (stars == 0 and expanded != 0):
        return list(duckdb_names)
    names: list[str] = []
    position = 0
    for item in items:
        if item.get("class") == "STAR" and not item.get("alias"):
            names.extend(duckdb_names[position : position + expanded])
            position += expanded
            continue
        if item.get("alias"):
            names.append(str(item["alias"]))
        elif item.get("class") == "COLUMN_REF":
            names.append(duckdb_names[position])
        else:
            names.append(f"_col{position}")
        position += 1
    return names


# -- Trino's type rules for comparisons ------------------------------------------------------------

_COMPARISON_OPERATORS: Final = {
    "COMPARE_EQUAL": "=",
    "COMPARE_NOTEQUAL": "<>",
    "COMPARE_LESSTHAN": "<",
    "COMPARE_GREATERTHAN": ">",
    "COMPARE_LESSTHANOREQUALTO": "<=",
    "COMPARE_GREATERTHANOREQUALTO": ">=",
    "COMPARE_DISTINCT_FROM": "IS DISTINCT FROM",
}
_NUMERIC: Final = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL"}
    | {"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
)
_TRINO_TYPE_NAMES: Final = {
    "VARCHAR": "varchar",
    "TINYINT": "tinyint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "HUGEINT": "bigint",
    "FLOAT": "real",
    "DOUBLE": "double",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp(3)",
    "TIMESTAMP WITH TIME ZONE": "timestamp(3) with time zone",
}


def type_family(duckdb_type: str) -> str | None:
    """Trino's coercion family of a DuckDB type: values of two families never compare."""
    base = re.sub(r"\(.*$", "", duckdb_type.upper()).strip()
    if base in _NUMERIC:
        return "number"
    if base == "VARCHAR":
        return "varchar"
    if base in {"DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS", "TIMESTAMP_MS"}:
        return "time"
    if base == "BOOLEAN":
        return "boolean"
    return None  # NULL, nested and other types: not checked


def _trino_type(duckdb_type: str, node: dict[str, Any]) -> str:
    """The type name Trino shows for an operand (a string literal is ``varchar(<length>)``)."""
    literal = node.get("literal") or {}
    if node.get("class") == "CONSTANT" and literal.get("kind") == "STRING":
        return f"varchar({len(str(literal.get('text', '')))})"
    return trino_type_name(duckdb_type)


def trino_type_name(duckdb_type: str) -> str:
    """The name Trino gives the type of a DuckDB result (``DECIMAL(2,1)`` → ``decimal(2,1)``)."""
    upper = duckdb_type.upper()
    if upper.endswith("[]"):
        return f"array({trino_type_name(upper[:-2])})"
    if upper.startswith("DECIMAL"):
        return upper.lower().replace(" ", "")
    return _TRINO_TYPE_NAMES.get(upper, duckdb_type.lower())


def _without_subqueries(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("class") == "SUBQUERY":
            return
        yield node
        for value in node.values():
            yield from _without_subqueries(value)
    elif isinstance(node, list):
        for item in node:
            yield from _without_subqueries(item)


def _operand_types(
    connection: duckdb.DuckDBPyConnection,
    select: dict[str, Any],
    ctes: dict[str, Any] | None,
    operands: list[dict[str, Any]],
) -> list[str] | None:
    """The DuckDB types of expressions evaluated over a SELECT's FROM clause, or None."""
    probe = {
        **select,
        "select_list": operands,
        "where_clause": None,
        "group_expressions": [],
        "group_sets": [],
        "having": None,
        "qualify": None,
        "modifiers": [],
        "sample": None,
        "aggregate_handling": "STANDARD_HANDLING",
    }
    if ctes and not (select.get("cte_map") or {}).get("map"):
        probe["cte_map"] = ctes
    document = json.dumps({"error": False, "statements": [{"node": probe}]})
    try:
        rows = connection.execute("SELECT json_deserialize_sql($1::JSON)", [document]).fetchall()
        if not rows:
            return None
        described = connection.execute(f"DESCRIBE {rows[0][0]}").fetchall()
    except duckdb.Error:
        return None  # not checkable this way (aggregates, outer references): DuckDB decides
    return [str(column[1]) for column in described]


def _ast_or_none(connection: duckdb.DuckDBPyConnection, sql: str) -> dict[str, Any] | None:
    try:
        return serialize(connection, sql)
    except QueryError:
        return None


def check_comparisons(
    connection: duckdb.DuckDBPyConnection, sql: str, ast: dict[str, Any] | None = None
) -> None:
    """Fail like Trino when a WHERE clause compares values of different type families.

    DuckDB casts ``varchar = integer`` implicitly; Trino rejects it (TYPE_MISMATCH, "Cannot
    apply operator: varchar = integer"), and so do string literals against numbers or dates.
    Tables must be registered on ``connection`` already. ``ast`` is ``sql``'s AST when the
    caller has it already.
    """
    ast = ast if ast is not None else _ast_or_none(connection, sql)
    if ast is None:
        return
    root = ast["statements"][0]["node"]
    ctes = root.get("cte_map")
    for select in _walk(root):
        if select.get("type") != "SELECT_NODE" or not select.get("where_clause"):
            continue
        for node in _without_subqueries(select["where_clause"]):
            if node.get("class") == "COMPARISON" and node.get("type") in _COMPARISON_OPERATORS:
                operands = [node["left"], node["right"]]
            elif node.get("class") == "OPERATOR" and node.get("type") == "COMPARE_IN":
                operands = list(node.get("children") or [])
            else:
                continue
            if any(o.get("class") == "SUBQUERY" for o in operands):
                continue
            types = _operand_types(connection, select, ctes, operands)
            if not types:
                continue
            families = {type_family(kind) for kind in types} - {None}
            if len(families) <= 1:
                continue
            if node.get("class") == "COMPARISON":
                left, right = operands
                end = int(left.get("query_location", 0)) + int(left.get("query_location_length", 0))
                operator = _COMPARISON_OPERATORS[str(node["type"])]
                found = sql.upper().find(operator.split()[0], end)
                line, column = line_column(sql, found if found >= 0 else end)
                message = (
                    f"Cannot apply operator: {_trino_type(types[0], left)} {operator} "
                    f"{_trino_type(types[1], right)}"
                )
            else:
                # Trino places an IN predicate at its IN keyword (NOT IN: at NOT).
                value = operands[0]
                end = int(value.get("query_location", 0)) + int(
                    value.get("query_location_length", 0)
                )
                keyword = re.compile(r"\b(?:NOT\s+)?IN\b", re.I).search(sql, end)
                line, column = line_column(sql, keyword.start() if keyword else end)
                message = "IN value and list items must be the same type: " + _trino_type(
                    types[0], operands[0]
                )
            raise QueryError("TYPE_MISMATCH", f"line {line}:{column}: {message}")
