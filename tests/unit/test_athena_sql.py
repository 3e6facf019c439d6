"""The local Athena's SQL layer: statement kinds, table references, Trino functions, errors."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from mhealth_localstack.athena import dialect, errors, statements, text
from mhealth_localstack.athena.dialect import TableRef
from mhealth_localstack.athena.errors import QueryError
from mhealth_localstack.athena.statements import DdlKind, DdlStatement, StatementType

_CATALOG = dialect.DEFAULT_CATALOG
_DATABASE = "mhealth"


@pytest.fixture
def connection() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(":memory:")


def _parse(connection: duckdb.DuckDBPyConnection, query: str) -> dialect.SelectStatement:
    return dialect.parse_select(connection, query, catalog=_CATALOG, database=_DATABASE)


def _run(query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The query as the engine runs one without catalog tables: output names and Python rows."""
    connection = duckdb.connect(":memory:")
    try:
        parsed = _parse(connection, query)
        for statement in (*dialect.SESSION_SETTINGS, *dialect.TRINO_MACROS):
            connection.execute(statement)
        relation = connection.sql(parsed.sql)
        assert relation is not None
        names = dialect.output_names(parsed.select_items, relation.columns)
        return names, relation.fetchall()
    finally:
        connection.close()


def _value(expression: str) -> Any:
    _, rows = _run(f"SELECT {expression}")
    return rows[0][0]


def _failure(query: str) -> QueryError:
    """The QueryError Athena would report for the query (DuckDB's own errors translated)."""
    try:
        _run(query)
    except QueryError as error:
        return error
    except duckdb.Error as error:
        return errors.translate_error(error, query)
    raise AssertionError(f"{query!r} did not fail")


# -- statement kinds ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SELECT 1", StatementType.DML),
        ("  with x AS (SELECT 1) SELECT * FROM x", StatementType.DML),
        ("VALUES (1, 2)", StatementType.DML),
        ("(SELECT 1)", StatementType.DML),
        ("TABLE events", StatementType.DML),
        ("FROM events SELECT a", StatementType.DML),
        ("EXPLAIN SELECT 1", StatementType.DML),
        ("-- why\n/* block */ SELECT 1", StatementType.DML),
        ("INSERT INTO t VALUES (1)", StatementType.DML),
        ("UPDATE t SET a = 1", StatementType.DML),
        ("DELETE FROM t", StatementType.DML),
        ("MERGE INTO t USING s ON true", StatementType.DML),
        ("SHOW TABLES", StatementType.DDL),
        ("show create table t", StatementType.DDL),
        ("DESCRIBE t", StatementType.DDL),
        ("desc t", StatementType.DDL),
        ("CREATE TABLE t (a int)", StatementType.DDL),
        ("DROP TABLE t", StatementType.DDL),
        ("ALTER TABLE t ADD PARTITION (d = '1')", StatementType.DDL),
        ("MSCK REPAIR TABLE t", StatementType.DDL),
        ("USE mhealth", StatementType.UTILITY),
        ("PREPARE p FROM SELECT 1", StatementType.UTILITY),
        ("", StatementType.UTILITY),
        ("  -- only a comment", StatementType.UTILITY),
    ],
)
def test_statement_type_classifies_by_first_keyword_after_comments(
    query: str, expected: StatementType
) -> None:
    assert statements.statement_type(query) is expected


def test_strip_comments_removes_line_and_block_comments_and_outer_blanks() -> None:
    assert text.strip_comments(" -- a\nSELECT /* b\n c */ 1 -- d\n ") == "SELECT   1"


# -- SHOW / DESCRIBE ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SHOW TABLES", DdlStatement(DdlKind.SHOW_TABLES)),
        ("show tables;", DdlStatement(DdlKind.SHOW_TABLES)),
        ('SHOW TABLES IN "MHealth"', DdlStatement(DdlKind.SHOW_TABLES, database="mhealth")),
        ("SHOW TABLES FROM awsdatacatalog.db", DdlStatement(DdlKind.SHOW_TABLES, database="db")),
        (
            "show tables in mhealth like 'ev*|x''y';",
            DdlStatement(DdlKind.SHOW_TABLES, database="mhealth", like="ev*|x'y"),
        ),
        ("SHOW TABLES 'ev*'", DdlStatement(DdlKind.SHOW_TABLES, regex="ev*")),
        (
            "show tables in mhealth 'a.*|x''y' ;",
            DdlStatement(DdlKind.SHOW_TABLES, database="mhealth", regex="a.*|x'y"),
        ),
        ("SHOW DATABASES", DdlStatement(DdlKind.SHOW_DATABASES)),
        ("SHOW SCHEMAS LIKE 'm*'", DdlStatement(DdlKind.SHOW_DATABASES, like="m*")),
        ("SHOW COLUMNS IN db.t", DdlStatement(DdlKind.SHOW_COLUMNS, database="db", table="t")),
        (
            "SHOW COLUMNS FROM t IN db",
            DdlStatement(DdlKind.SHOW_COLUMNS, database="db", table="t"),
        ),
        ("SHOW COLUMNS IN t", DdlStatement(DdlKind.SHOW_COLUMNS, table="t")),
        ("DESCRIBE `db`.`T`", DdlStatement(DdlKind.DESCRIBE, database="db", table="t")),
        ('DESCRIBE "a""b"', DdlStatement(DdlKind.DESCRIBE, table='a"b')),
        ("DESC FORMATTED t", DdlStatement(DdlKind.DESCRIBE, table="t")),
        (
            "-- hi\nDESCRIBE awsdatacatalog.db.t;",
            DdlStatement(DdlKind.DESCRIBE, database="db", table="t"),
        ),
    ],
)
def test_parse_ddl_reads_database_table_and_like_pattern(
    query: str, expected: DdlStatement
) -> None:
    assert statements.parse_ddl(query) == expected


@pytest.mark.parametrize(
    "query",
    [
        "SELECT 1",
        "SHOW CREATE TABLE t",
        "SHOW PARTITIONS t",
        "DESCRIBE",
        "SHOW TABLES extra",
        "SHOW TABLES LIKE 'a' 'b'",
        "SHOW DATABASES 'm*'",
    ],
)
def test_parse_ddl_answers_none_for_statements_not_from_the_catalog(query: str) -> None:
    assert statements.parse_ddl(query) is None


def test_like_to_regex_matches_star_wildcards_and_alternatives_case_insensitively() -> None:
    pattern = statements.like_to_regex("ev*| Bar ")

    matches = {name: bool(pattern.fullmatch(name)) for name in ("events", "EV", "bar", "xevents")}

    assert matches == {"events": True, "EV": True, "bar": True, "xevents": False}


def test_like_to_regex_treats_regex_metacharacters_literally() -> None:
    pattern = statements.like_to_regex("a.b(")

    assert pattern.fullmatch("a.b(") is not None
    assert pattern.fullmatch("axb(") is None


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        ("ev*", ["events", "EV"]),
        ("ev.*", ["events", "EV"]),
        ("e.ents|bar", ["events", "bar"]),
        ("x?events", ["events", "xevents"]),
        ("(ev|x)+.*", ["events", "EV", "xevents"]),
        ("[a-c]ar", ["bar"]),
    ],
)
def test_table_regex_is_a_regex_with_star_wildcards_matched_whole_and_case_insensitively(
    pattern: str, names: list[str]
) -> None:
    regex = statements.table_regex(pattern)

    assert [n for n in ("events", "EV", "bar", "xevents") if regex.fullmatch(n)] == names


def test_malformed_table_regex_is_an_invalid_argument() -> None:
    with pytest.raises(QueryError) as caught:
        statements.table_regex("ev(")

    assert str(caught.value) == (
        "INVALID_FUNCTION_ARGUMENT: Invalid regular expression: missing ), unterminated subpattern"
        " at position 2"
    )
    assert caught.value.user_error


# -- table references -------------------------------------------------------------------------


def test_parse_select_resolves_unqualified_tables_against_the_context(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    parsed = _parse(connection, "SELECT * FROM events")

    assert parsed.tables == (TableRef("awsdatacatalog", "mhealth", "events", 1, 15),)
    assert parsed.tables[0].qualified == "awsdatacatalog.mhealth.events"


def test_parse_select_lowers_quoted_names(connection: duckdb.DuckDBPyConnection) -> None:
    parsed = _parse(connection, 'SELECT a FROM "MHealth"."Events"')

    assert parsed.tables == (TableRef("awsdatacatalog", "mhealth", "events", 1, 15),)


def test_parse_select_reports_each_table_with_line_and_column(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    query = (
        "SELECT a\nFROM awsdatacatalog.other.t1 JOIN\n"
        "    t2 ON true\n"
        "  JOIN elsewhere.db.t3 ON true"
    )

    parsed = _parse(connection, query)

    assert parsed.tables == (
        TableRef("awsdatacatalog", "other", "t1", 2, 6),
        TableRef("awsdatacatalog", "mhealth", "t2", 3, 5),
        TableRef("elsewhere", "db", "t3", 4, 8),
    )


def test_parse_select_names_a_table_read_twice_once(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    parsed = _parse(connection, "SELECT * FROM events e JOIN mhealth.events f ON true")

    assert [ref.qualified for ref in parsed.tables] == ["awsdatacatalog.mhealth.events"]


def test_parse_select_skips_cte_names_but_not_a_qualified_table_of_that_name(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    query = "WITH x AS (SELECT * FROM events) SELECT * FROM x, mhealth.x"

    parsed = _parse(connection, query)

    assert parsed.tables == (
        TableRef("awsdatacatalog", "mhealth", "events", 1, 26),
        TableRef("awsdatacatalog", "mhealth", "x", 1, 51),
    )


def test_parse_select_finds_tables_in_subqueries_and_set_operations(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    query = (
        "SELECT a FROM (SELECT * FROM t4) s WHERE a IN (SELECT b FROM t5) UNION SELECT c FROM t6"
    )

    parsed = _parse(connection, query)

    assert [ref.table for ref in parsed.tables] == ["t4", "t5", "t6"]


def test_parse_select_reads_the_tables_of_an_explained_query_at_their_own_position(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    query = "/* plan */ EXPLAIN ANALYZE\nSELECT '--not a comment'\nFROM t6"

    parsed = _parse(connection, query)

    assert parsed.sql == query
    assert parsed.tables == (TableRef("awsdatacatalog", "mhealth", "t6", 3, 6),)
    assert parsed.select_items == ()


def test_parse_select_keeps_the_select_items_of_the_leftmost_select(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    parsed = _parse(connection, "SELECT a, 1 AS one, * FROM t UNION ALL SELECT 1, 2, 3 FROM u")

    classes = [(item["class"], item.get("alias")) for item in parsed.select_items]
    assert classes == [("COLUMN_REF", ""), ("CONSTANT", "one"), ("STAR", "")]


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        ("SELECT 1; SELECT 2", "INVALID_INPUT", "Only one sql statement is allowed. Got: 2"),
        ("", "SYNTAX_ERROR", "Only one sql statement is allowed. Got: 0"),
        ("  -- nothing", "SYNTAX_ERROR", "Only one sql statement is allowed. Got: 0"),
    ],
)
def test_parse_select_refuses_anything_but_one_statement(
    connection: duckdb.DuckDBPyConnection, query: str, code: str, message: str
) -> None:
    with pytest.raises(QueryError) as caught:
        _parse(connection, query)

    assert caught.value.code == code
    assert str(caught.value) == f"{code}: {message}"
    assert caught.value.user_error


def test_parse_select_accepts_one_statement_with_a_trailing_semicolon(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    assert _parse(connection, "SELECT 'it''s' AS x ;\n-- done").tables == ()


def test_serialize_reports_a_syntax_error_with_line_and_column(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    with pytest.raises(QueryError) as caught:
        dialect.serialize(connection, "SELECT 1\n  FROM t WHERE")

    assert str(caught.value) == 'SYNTAX_ERROR: line 2:10: syntax error at or near "WHERE"'


# -- date_parse ---------------------------------------------------------------------------------


def test_mysql_to_strftime_translates_every_mysql_letter_once() -> None:
    converted = dialect.mysql_to_strftime("%Y-%m-%d %H:%i:%s %M %W %T %r %h %c %e %k %l %v %%")

    assert converted == ("%Y-%m-%d %H:%M:%S %B %A %H:%M:%S %I:%M:%S %p %I %-m %-d %-H %-I %V %%")


def test_parse_select_rewrites_date_parse_to_strptime_and_nothing_else(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    query = (
        "SELECT date_parse(s, '%d/%m/%Y %T') AS d, DATE_PARSE(s, '%Y''%i'),"
        " 'date_parse(s, ''%i'')' AS text FROM t"
    )

    parsed = _parse(connection, query)

    assert parsed.sql == (
        "SELECT strptime(s, '%d/%m/%Y %H:%M:%S') AS d, strptime(s, '%Y''%M'),"
        " 'date_parse(s, ''%i'')' AS text FROM t"
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "SELECT date_parse(s, f) FROM t",
            "date_parse needs a string literal as its format in the local Athena",
        ),
        (
            "SELECT date_parse(s) FROM t",
            "date_parse needs two arguments, the second a string literal, in the local Athena",
        ),
    ],
)
def test_date_parse_without_a_literal_format_is_not_supported(
    connection: duckdb.DuckDBPyConnection, query: str, message: str
) -> None:
    with pytest.raises(QueryError) as caught:
        _parse(connection, query)

    assert str(caught.value) == f"NOT_SUPPORTED: {message}"


def test_date_parse_runs_with_mysql_letters() -> None:
    assert _value("date_parse('02/01/2014 7:05:09', '%d/%m/%Y %k:%i:%s')") == dt.datetime(
        2014, 1, 2, 7, 5, 9
    )
    assert _value("date_parse('10 January 2014', '%d %M %Y')") == dt.datetime(2014, 1, 10)


# -- output names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("SELECT 1, 'x' AS a, 2 + 3", ["_col0", "a", "_col2"]),
        ("SELECT a, a + 1, t.* FROM (VALUES (1, 2)) t(a, b)", ["a", "_col1", "a", "b"]),
        ("SELECT count(*), max(a) m FROM (VALUES (1)) t(a)", ["_col0", "m"]),
        ("SELECT * FROM (VALUES (1)) t(a), (VALUES (2)) u(b)", ["a", "b"]),
        ("SELECT 'é' AS \"Ünï\", 2", ["Ünï", "_col1"]),
        ("SELECT 1, 'x' AS a UNION ALL SELECT 2, 'y'", ["_col0", "a"]),
        ("SELECT 1 UNION SELECT 2 UNION SELECT 3 ORDER BY 1", ["_col0"]),
    ],
)
def test_output_names_follow_trino(query: str, names: list[str]) -> None:
    assert _run(query)[0] == names


def test_output_names_keep_duckdb_names_when_the_select_list_does_not_line_up() -> None:
    star = {"class": "STAR", "alias": ""}
    constant = {"class": "CONSTANT", "alias": ""}

    assert dialect.output_names([star, star], ["a", "b", "c"]) == ["a", "b", "c"]
    assert dialect.output_names([], ["x"]) == ["x"]
    assert dialect.output_names([constant], ["x", "y"]) == ["x", "y"]
    assert dialect.output_names([constant, star], ["1", "a", "b"]) == ["_col0", "a", "b"]


# -- arithmetic and Trino functions -----------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("5 / 2", 2),
        ("-7 / 2", -3),
        ("7 / -2", -3),
        ("CAST(-7 AS BIGINT) / 2", -3),
        ("-7 % 2", -1),
        ("5e0 / 2", 2.5),
    ],
)
def test_integer_division_truncates_toward_zero_like_trino(expression: str, expected: Any) -> None:
    assert _value(expression) == expected


def test_session_runs_in_utc() -> None:
    assert _value("current_setting('TimeZone')") == "UTC"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("regexp_like('abc', 'b')", True),
        ("regexp_like('abc', '^b')", False),
        ("regexp_replace('a1b22', '\\d')", "ab"),
        ("regexp_replace('a1b22', '(\\d+)', '<$1>')", "a<1>b<22>"),
        ("approx_distinct(x)", 2),
        ("approx_percentile(x, 0.5)", 1),
        ("arbitrary(7)", 7),
        ("date_add('day', 2, TIMESTAMP '2014-01-01 00:00:00')", dt.datetime(2014, 1, 3)),
        ("date_add('month', -1, DATE '2014-03-31')", dt.datetime(2014, 2, 28)),
        ("date_diff('day', DATE '2014-01-01', TIMESTAMP '2014-01-03 23:00:00')", 2),
        ("date_diff('hour', TIMESTAMP '2014-01-01 00:00:00', TIMESTAMP '2014-01-01 02:59:59')", 2),
        ("date_diff('month', DATE '2014-01-15', DATE '2014-02-14')", 0),
        (
            "date_format(TIMESTAMP '2014-01-02 03:04:05', '%Y-%m-%d %H:%i:%s %W %M')",
            "2014-01-02 03:04:05 Thursday January",
        ),
        ("date_format(DATE '2014-01-02', '%c/%e/%y %T')", "1/2/14 00:00:00"),
        ("date('2014-03-04')", dt.date(2014, 3, 4)),
        ("from_unixtime(1.5)", dt.datetime(1970, 1, 1, 0, 0, 1, 500000)),
        ("to_unixtime(TIMESTAMP '2014-01-01 00:00:00.5')", 1388534400.5),
        (
            "from_iso8601_timestamp('2014-01-01T00:00:00.020Z')",
            dt.datetime(2014, 1, 1, 0, 0, 0, 20000, tzinfo=dt.UTC),
        ),
        ("from_iso8601_date('2014-02-03')", dt.date(2014, 2, 3)),
        ("to_iso8601(TIMESTAMP '2014-01-01 00:00:00.020')", "2014-01-01T00:00:00.020"),
        ("day_of_week(DATE '2014-01-05')", 7),
        ("dow(DATE '2014-01-06')", 1),
        ("day_of_year(DATE '2014-02-01')", 32),
        ("doy(DATE '2014-12-31')", 365),
        ("day_of_month(DATE '2014-02-03')", 3),
        ("week_of_year(DATE '2014-12-29')", 1),
        ("year_of_week(DATE '2014-12-29')", 2015),
        ("yow(DATE '2014-12-29')", 2015),
        ('json_extract_scalar(\'{"a": {"b": "x"}}\', \'$.a.b\')', "x"),
        ("json_format(json_parse('{\"a\":[1,2]}'))", '{"a":[1,2]}'),
        ("is_nan(nan())", True),
        ("is_nan(1e0)", False),
        ("infinity() > 1.7976931348623157e308", True),
        ("truncate(-2.7e0)", -2.0),
        ("cardinality(ARRAY[1, 2, 3])", 3),
        ("array_join(ARRAY['a', 'b'], ',')", "a,b"),
        ("sequence(1, 3)", [1, 2, 3]),
        ("levenshtein_distance('kitten', 'sitting')", 3),
    ],
)
def test_trino_macros_give_trino_results(expression: str, expected: Any) -> None:
    _, rows = _run(f"SELECT {expression} FROM (VALUES (1), (1), (2)) t(x) LIMIT 1")

    assert rows == [(expected,)]


def test_nan_macro_is_a_double_nan() -> None:
    value = _value("nan()")

    assert isinstance(value, float)
    assert math.isnan(value)


def test_decimal_arithmetic_keeps_decimal_values() -> None:
    assert _value("CAST(1.25 AS DECIMAL(10, 2)) * 2") == Decimal("2.50")


# -- errors -------------------------------------------------------------------------------------


def test_unknown_column_is_column_not_found() -> None:
    error = _failure("SELECT nope FROM (VALUES (1)) t(a)")

    assert error.code == "COLUMN_NOT_FOUND"
    assert str(error) == (
        "COLUMN_NOT_FOUND: Column 'nope' cannot be resolved"
        ' (Referenced column "nope" not found in FROM clause! Candidate bindings: "a")'
    )


@pytest.mark.parametrize("query", ["SELECT nope", "SELECT 1 AS x ORDER BY nope"])
def test_unknown_column_without_from_is_column_not_found(query: str) -> None:
    error = _failure(query)

    assert error.code == "COLUMN_NOT_FOUND"
    assert str(error).startswith("COLUMN_NOT_FOUND: Column 'nope' cannot be resolved (")


def _parser_error(query: str) -> duckdb.ParserException:
    try:
        duckdb.extract_statements(query)
    except duckdb.ParserException as error:
        return error
    raise AssertionError(f"DuckDB parsed {query!r}")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELEC 1", 'line 1:1: syntax error at or near "SELEC"'),
        ("SELECT 1\n  FROM t WHERE", 'line 2:10: syntax error at or near "WHERE"'),
        ("SELECT * FROM t WHERE a = (", 'line 1:27: syntax error at or near "("'),
        ("SELECT\t'é',\t'日本' FROM t WHERE", 'line 1:25: syntax error at or near "WHERE"'),
        (
            "SELECT " + ", ".join(f"a{i}" for i in range(40)) + " FROM t WHERE",
            'line 1:204: syntax error at or near "WHERE"',
        ),
    ],
)
def test_parser_error_is_syntax_error_at_the_line_and_column_of_the_caret(
    query: str, message: str
) -> None:
    error = errors.translate_error(_parser_error(query), query)

    assert str(error) == f"SYNTAX_ERROR: {message}"
    assert error.user_error


def test_error_in_a_cropped_long_line_has_no_position_without_the_query() -> None:
    query = "SELECT " + ", ".join(f"a{i}" for i in range(40)) + " FROM t WHERE"

    error = errors.translate_error(_parser_error(query))

    assert str(error) == 'SYNTAX_ERROR: syntax error at or near "WHERE"'


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT foo(1)", "line 1:8: Function 'foo' not registered"),
        ("SELECT FOO(1)", "line 1:8: Function 'foo' not registered"),
        ("SELECT 'foo(' AS s, /* foo( */ \"Foo\" (1)", "line 1:32: Function 'foo' not registered"),
        (
            "SELECT date_parse(s, '%Y'), foo(1) FROM (VALUES ('2014')) t(s)",
            "line 1:29: Function 'foo' not registered",
        ),
        (
            "SELECT 1,\n  nope(x) OVER () FROM (VALUES (1)) t(x)",
            "line 2:3: Function 'nope' not registered",
        ),
        (
            "SELECT x FROM (VALUES (1)) t(x) GROUP BY foo(x)",
            "line 1:42: Function 'foo' not registered",
        ),
    ],
)
def test_unknown_function_is_function_not_found_at_its_position(query: str, message: str) -> None:
    error = _failure(query)

    assert str(error) == f"FUNCTION_NOT_FOUND: {message}"
    assert error.user_error


def test_binder_error_is_a_syntax_error_without_position() -> None:
    # DuckDB's relation API (what the engine runs) reports binder errors without their caret.
    error = _failure("SELECT lower(1, 2)")

    assert str(error) == (
        "SYNTAX_ERROR: No function matches the given name and argument types"
        " 'lower(INTEGER_LITERAL, INTEGER_LITERAL)'. You might need to add explicit type casts."
        " Candidate functions: lower(string VARCHAR) -> VARCHAR"
    )


@pytest.mark.parametrize(
    "query", ["SELECT 1 / 0", "SELECT CAST(1 AS BIGINT) % 0", "SELECT 1.0 / 0"]
)
def test_division_by_zero_fails_like_trino(query: str) -> None:
    error = _failure(query)

    assert str(error) == "DIVISION_BY_ZERO: Division by zero"
    assert error.user_error


@pytest.mark.parametrize("query", ["SELECT 1e0 / 0", "SELECT 0e0 / 0", "SELECT -1e0 / 0"])
def test_double_division_by_zero_fails_unlike_trino(query: str) -> None:
    # Trino gives Infinity/NaN; DuckDB's integer_division "/" is "//", which raises for doubles too.
    assert str(_failure(query)) == "DIVISION_BY_ZERO: Division by zero"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "SELECT CAST('x' AS INTEGER)",
            "INVALID_CAST_ARGUMENT: Could not convert string 'x' to INT32",
        ),
        (
            "SELECT 9223372036854775807 + 1",
            "NUMERIC_VALUE_OUT_OF_RANGE: Overflow in addition of INT64 (9223372036854775807 + 1)!",
        ),
        ("SELECT regexp_like('a', '(')", "INVALID_FUNCTION_ARGUMENT: missing ): ("),
    ],
)
def test_runtime_errors_map_to_athena_codes(query: str, message: str) -> None:
    error = _failure(query)

    assert str(error) == message
    assert error.user_error


def test_out_of_memory_is_a_system_error() -> None:
    error = errors.translate_error(duckdb.OutOfMemoryException("Out of Memory Error: no more"))

    assert (error.code, str(error), error.user_error) == (
        "EXCEEDED_LOCAL_MEMORY_LIMIT",
        "EXCEEDED_LOCAL_MEMORY_LIMIT: no more",
        False,
    )


def test_other_duckdb_errors_are_internal_system_errors() -> None:
    error = errors.translate_error(duckdb.InternalException("INTERNAL Error: boom"))

    assert (error.code, str(error), error.user_error) == (
        "GENERIC_INTERNAL_ERROR",
        "GENERIC_INTERNAL_ERROR: boom",
        False,
    )
