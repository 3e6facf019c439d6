"""The local Athena's statement layer without AWS: parsing, Glue table shapes, Trino typing, writes.

Statement grammar as the Athena DDL reference gives it
(https://docs.aws.amazon.com/athena/latest/ug/ddl-reference.html); view storage as
https://docs.aws.amazon.com/athena/latest/ug/views.html describes.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import cast

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from mhealth_localstack.athena import catalog, ddl, dialect, glue_tables, statements, writer
from mhealth_localstack.athena.catalog import Column
from mhealth_localstack.athena.errors import QueryError, translate_error
from mhealth_localstack.athena.statements import StatementType

# -- parsing --------------------------------------------------------------------------------


def test_parse_ctas_as_awswrangler_writes_it() -> None:
    sql = (
        'CREATE TABLE "db"."temp_table_ab12"\nWITH(\n'
        "    external_location = 's3://bucket/results/temp_table_ab12',\n"
        "    partitioned_by = ARRAY['user_id', 'day'],\n"
        "    write_compression = 'SNAPPY',\n"
        "    format = 'PARQUET'\n)\nAS SELECT a, user_id, day FROM t"
    )

    parsed = ddl.parse(sql)

    assert parsed == ddl.CreateTableAs(
        name=ddl.Name("db", "temp_table_ab12"),
        properties={
            "external_location": "s3://bucket/results/temp_table_ab12",
            "partitioned_by": ["user_id", "day"],
            "write_compression": "SNAPPY",
            "format": "PARQUET",
        },
        query="SELECT a, user_id, day FROM t",
        query_offset=sql.index("SELECT"),
    )


def test_parse_ctas_with_no_data_and_parenthesised_query() -> None:
    parsed = ddl.parse("CREATE TABLE IF NOT EXISTS t AS (SELECT 1 AS a) WITH NO DATA;")

    assert isinstance(parsed, ddl.CreateTableAs)
    assert (parsed.query, parsed.with_data, parsed.if_not_exists) == ("SELECT 1 AS a", False, True)
    assert parsed.properties == {}


def test_parse_create_external_table_delimited_text() -> None:
    parsed = ddl.parse(
        "CREATE EXTERNAL TABLE IF NOT EXISTS `raw`.`logs` (\n"
        "  `s1` double COMMENT 'chest x', s2 DECIMAL(10, 2), tags array<struct<k:string>>, n int)\n"
        "COMMENT 'raw files'\n"
        "PARTITIONED BY (user_id string)\n"
        "ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' "
        "LINES TERMINATED BY '\\n'\n"
        "STORED AS TEXTFILE LOCATION 's3://bucket/raw/' "
        "TBLPROPERTIES ('skip.header.line.count'='1')"
    )

    assert parsed == ddl.CreateExternalTable(
        name=ddl.Name("raw", "logs"),
        columns=(
            ddl.ColumnDef("s1", "double", "chest x"),
            ddl.ColumnDef("s2", "decimal(10,2)"),
            ddl.ColumnDef("tags", "array<struct<k:string>>"),
            ddl.ColumnDef("n", "int"),
        ),
        partition_keys=(ddl.ColumnDef("user_id", "string"),),
        location="s3://bucket/raw/",
        serde=ddl.TEXT_SERDE,
        input_format=ddl.TEXT_INPUT,
        output_format=ddl.TEXT_OUTPUT,
        serde_parameters={
            "field.delim": "\t",
            "serialization.format": "\t",
            "escape.delim": "\\",
            "line.delim": "\n",
        },
        table_properties={"skip.header.line.count": "1"},
        comment="raw files",
        if_not_exists=True,
    )


def test_parse_create_external_table_parquet() -> None:
    parsed = ddl.parse("CREATE EXTERNAL TABLE t (a string) STORED AS PARQUET LOCATION 's3://b/t/'")

    assert isinstance(parsed, ddl.CreateExternalTable)
    assert (parsed.serde, parsed.input_format) == (ddl.PARQUET_SERDE, ddl.PARQUET_INPUT)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("DROP TABLE IF EXISTS db.t", ddl.DropTable(ddl.Name("db", "t"), True)),
        ("drop view v", ddl.DropTable(ddl.Name(None, "v"), False, view=True)),
        (
            'CREATE OR REPLACE VIEW "v" AS\nSELECT 1',
            ddl.CreateView(ddl.Name(None, "v"), "SELECT 1", 30, True),
        ),
        ("MSCK REPAIR TABLE awsdatacatalog.db.t", ddl.RepairTable(ddl.Name("db", "t"))),
        ("SHOW PARTITIONS db.t", ddl.ShowPartitions(ddl.Name("db", "t"))),
        ("SHOW CREATE VIEW v", ddl.ShowCreate(ddl.Name(None, "v"), view=True)),
        (
            "ALTER TABLE t ADD IF NOT EXISTS PARTITION (user_id = '1', day = 2) "
            "LOCATION 's3://b/t/1/' PARTITION (user_id = '2', day = 3)",
            ddl.AlterPartitions(
                ddl.Name(None, "t"),
                True,
                (
                    ddl.PartitionSpec((("user_id", "1"), ("day", "2")), "s3://b/t/1/"),
                    ddl.PartitionSpec((("user_id", "2"), ("day", "3"))),
                ),
                True,
            ),
        ),
        (
            "ALTER TABLE t DROP PARTITION (user_id = '1'), PARTITION (user_id = '2')",
            ddl.AlterPartitions(
                ddl.Name(None, "t"),
                False,
                (ddl.PartitionSpec((("user_id", "1"),)), ddl.PartitionSpec((("user_id", "2"),))),
                False,
            ),
        ),
        (
            "INSERT INTO t (b, a) SELECT 1, 2",
            ddl.InsertInto(ddl.Name(None, "t"), ("b", "a"), "SELECT 1, 2", 21),
        ),
        (
            "INSERT INTO t (SELECT 1)",
            ddl.InsertInto(ddl.Name(None, "t"), (), "(SELECT 1)", 14),
        ),
    ],
)
def test_parse_catalog_statements(sql: str, expected: ddl.Statement) -> None:
    assert ddl.parse(sql) == expected


def test_parse_unload_with_nested_parentheses() -> None:
    sql = (
        "UNLOAD (SELECT (1 + 2) AS a FROM (SELECT 1) x) TO 's3://b/out/' "
        "WITH (format = 'PARQUET', partitioned_by = ARRAY['a'])"
    )

    parsed = ddl.parse(sql)

    assert parsed == ddl.Unload(
        query="SELECT (1 + 2) AS a FROM (SELECT 1) x",
        query_offset=8,
        location="s3://b/out/",
        properties={"format": "PARQUET", "partitioned_by": ["a"]},
    )


@pytest.mark.parametrize(
    "sql", ["SELECT 1", "WITH a AS (SELECT 1) SELECT * FROM a", "SHOW TABLES", "DESCRIBE t"]
)
def test_parse_leaves_queries_and_show_statements_to_the_other_layers(sql: str) -> None:
    assert ddl.parse(sql) is None


def test_parse_errors_name_the_position_and_unsupported_forms() -> None:
    with pytest.raises(QueryError) as syntax:
        ddl.parse("DROP TABLE\n  db.t extra")
    assert str(syntax.value) == "SYNTAX_ERROR: line 2:8: mismatched input 'extra'. Expecting: <EOF>"
    with pytest.raises(QueryError) as managed:
        ddl.parse("CREATE TABLE t (a int)")
    assert managed.value.code == "NOT_SUPPORTED"
    with pytest.raises(QueryError) as orc:
        ddl.parse("CREATE EXTERNAL TABLE t (a int) STORED AS ORC LOCATION 's3://b/'")
    assert str(orc.value).startswith("NOT_SUPPORTED: STORED AS ORC")


@pytest.mark.parametrize(
    ("sql", "kind", "sub"),
    [
        ("CREATE TABLE t AS SELECT 1", StatementType.DDL, "CREATE_TABLE_AS_SELECT"),
        ("CREATE EXTERNAL TABLE t (a int) LOCATION 's3://b/'", StatementType.DDL, "CREATE_TABLE"),
        ("UNLOAD (SELECT 1) TO 's3://b/' WITH (format='PARQUET')", StatementType.DML, "UNLOAD"),
        ("INSERT INTO t SELECT 1", StatementType.DML, "INSERT"),
        ("CREATE OR REPLACE VIEW v AS SELECT 1", StatementType.DDL, "CREATE_VIEW"),
        ("MSCK REPAIR TABLE t", StatementType.DDL, "MSCK_REPAIR_TABLE"),
        ("ALTER TABLE t ADD PARTITION (a='1')", StatementType.DDL, "ALTER_TABLE_ADD_PARTITION"),
        ("SHOW PARTITIONS t", StatementType.DDL, "SHOW_PARTITIONS"),
        ("SELECT 1", StatementType.DML, "SELECT"),
    ],
)
def test_statement_and_substatement_types_follow_athena(
    sql: str, kind: StatementType, sub: str
) -> None:
    assert statements.statement_type(sql) is kind
    assert statements.substatement_type(sql) == sub


# -- Glue table shapes ----------------------------------------------------------------------


def _spec(raw: dict[str, object], database: str = "db") -> catalog.TableSpec:
    class OneTable:
        def get_table(self, **_: object) -> dict[str, object]:
            return {"Table": raw}

        def get_partitions(self, **_: object) -> dict[str, object]:
            return {"Partitions": []}

    # A stand-in for the two Glue calls load_table makes on a table without partition keys.
    glue = cast(catalog.GlueCatalog, OneTable())
    spec = catalog.load_table(glue, database, str(raw["Name"]))
    assert spec is not None
    return spec


def test_view_is_stored_as_athena_stores_it_and_reads_back() -> None:
    definition = glue_tables.ViewDefinition(
        sql="SELECT user_id, count(*) AS n FROM t GROUP BY 1",
        catalog="awsdatacatalog",
        schema="db",
        columns=(("user_id", "varchar"), ("n", "bigint")),
    )

    table = glue_tables.view_table(
        "v", definition, [Column("user_id", "string"), Column("n", "bigint")]
    )

    assert table["TableType"] == "VIRTUAL_VIEW"
    assert table["Parameters"] == {"presto_view": "true", "comment": "Presto View"}
    assert table["ViewExpandedText"] == "/* Presto View */"
    encoded = table["ViewOriginalText"].removeprefix("/* Presto View: ").removesuffix(" */")
    document = json.loads(base64.b64decode(encoded))
    assert document["originalSql"] == definition.sql
    assert document["columns"] == [
        {"name": "user_id", "type": "varchar"},
        {"name": "n", "type": "bigint"},
    ]
    assert glue_tables.read_view(_spec(table)) == definition


def test_show_create_table_prints_hive_ddl() -> None:
    table = glue_tables.external_table(
        "logs",
        [Column("s1", "double"), Column("label", "int", "activity")],
        [Column("user_id", "string")],
        location="s3://b/raw/",
        serde=ddl.TEXT_SERDE,
        input_format=ddl.TEXT_INPUT,
        output_format=ddl.TEXT_OUTPUT,
        serde_parameters={"field.delim": "\t"},
        table_properties={},
        comment="",
    )

    assert glue_tables.show_create(_spec(table)) == [
        "CREATE EXTERNAL TABLE `db`.`logs`(",
        "  `s1` double, ",
        "  `label` int COMMENT 'activity')",
        "PARTITIONED BY ( ",
        "  `user_id` string)",
        "ROW FORMAT SERDE ",
        f"  '{ddl.TEXT_SERDE}' ",
        "WITH SERDEPROPERTIES ( ",
        "  'field.delim'='\\t')",
        "STORED AS INPUTFORMAT ",
        f"  '{ddl.TEXT_INPUT}' ",
        "OUTPUTFORMAT ",
        f"  '{ddl.TEXT_OUTPUT}'",
        "LOCATION",
        "  's3://b/raw/'",
    ]


@pytest.mark.parametrize(
    ("duckdb_type", "hive"),
    [
        ("VARCHAR", "string"),
        ("INTEGER", "int"),
        ("HUGEINT", "bigint"),
        ("DECIMAL(12,3)", "decimal(12,3)"),
        ("TIMESTAMP", "timestamp"),
        ("DOUBLE[]", "array<double>"),
    ],
)
def test_result_types_are_stored_as_hive_types(duckdb_type: str, hive: str) -> None:
    assert glue_tables.hive_type(duckdb_type, "c") == hive


def test_timestamp_with_time_zone_cannot_be_stored() -> None:
    with pytest.raises(QueryError) as error:
        glue_tables.hive_type("TIMESTAMP WITH TIME ZONE", "t")
    assert error.value.code == "NOT_SUPPORTED"


# -- Trino's typing of comparisons ------------------------------------------------------------


@pytest.fixture
def typed() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(":memory:")
    connection.execute("CREATE TABLE t (user_id VARCHAR, x DOUBLE, d DATE, n BIGINT)")
    return connection


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        (
            "SELECT * FROM t WHERE user_id = 1",
            "TYPE_MISMATCH: line 1:31: Cannot apply operator: varchar = integer",
        ),
        (
            "SELECT * FROM t WHERE x <> '1.5'",
            "TYPE_MISMATCH: line 1:25: Cannot apply operator: double <> varchar(3)",
        ),
        (
            "SELECT * FROM t\nWHERE d >= '2014-01-01'",
            "TYPE_MISMATCH: line 2:9: Cannot apply operator: date >= varchar(10)",
        ),
        (
            "SELECT * FROM t WHERE user_id NOT IN (1, 2)",
            "TYPE_MISMATCH: line 1:31: IN value and list items must be the same type: varchar",
        ),
        (
            "WITH s AS (SELECT * FROM t) SELECT * FROM s WHERE n = 1 AND user_id = 2.5",
            "TYPE_MISMATCH: line 1:69: Cannot apply operator: varchar = decimal(2,1)",
        ),
    ],
)
def test_comparisons_across_type_families_fail_like_trino(
    typed: duckdb.DuckDBPyConnection, sql: str, reason: str
) -> None:
    with pytest.raises(QueryError) as error:
        dialect.check_comparisons(typed, sql)
    assert str(error.value) == reason


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM t WHERE user_id = '1'",
        "SELECT * FROM t WHERE x = 1 AND n = 2.5 AND n IN (1, 2)",
        "SELECT * FROM t WHERE d = DATE '2014-01-01'",
        "SELECT * FROM t WHERE x IS NULL OR user_id = NULL",
        "SELECT * FROM t WHERE user_id IN (SELECT user_id FROM t)",
    ],
)
def test_comparisons_within_a_type_family_pass(typed: duckdb.DuckDBPyConnection, sql: str) -> None:
    dialect.check_comparisons(typed, sql)


# -- streaming Parquet writes -----------------------------------------------------------------


_SENSOR_BY_USER: list[tuple[str, pa.DataType]] = [
    ("sensor", pa.float64()),
    ("user_id", pa.string()),
]


def _batches(rows: int, users: int) -> pa.RecordBatchReader:
    schema = pa.schema(_SENSOR_BY_USER)
    batches = [
        pa.record_batch(
            [
                pa.array([float(i) for i in range(start, min(start + 1000, rows))]),
                pa.array([str(i % users) for i in range(start, min(start + 1000, rows))]),
            ],
            schema=schema,
        )
        for start in range(0, rows, 1000)
    ]
    return pa.RecordBatchReader.from_batches(schema, batches)


def test_write_parquet_partitions_into_hive_folders_and_counts_rows(tmp_path: Path) -> None:
    fs = pafs.LocalFileSystem()
    schema = pa.schema(_SENSOR_BY_USER)

    files, rows = writer.write_parquet(
        _batches(2500, 2),
        fs=fs,
        root=str(tmp_path / "out"),
        schema=schema,
        partition_by=["user_id"],
        basename="q1",
    )

    assert rows == 2500
    assert sorted({f.partition for f in files}) == [("0",), ("1",)]
    assert all(Path(f.path).parent.name.startswith("user_id=") and f.size > 0 for f in files)
    first = pq.read_table(str(tmp_path / "out" / "user_id=1"))
    assert first.num_rows == 1250 and first.column_names == ["sensor"]


def test_write_parquet_refuses_more_than_100_partitions_and_leaves_no_files(
    tmp_path: Path,
) -> None:
    fs = pafs.LocalFileSystem()
    schema = pa.schema(_SENSOR_BY_USER)

    with pytest.raises(QueryError) as error:
        writer.write_parquet(
            _batches(5000, 150),
            fs=fs,
            root=str(tmp_path / "out"),
            schema=schema,
            partition_by=["user_id"],
            basename="q1",
        )

    assert error.value.code == "HIVE_TOO_MANY_OPEN_PARTITIONS"
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("SELECT user_id + 1 FROM t", "Cannot apply operator: varchar + integer"),
        ("SELECT x * '2' FROM t", "Cannot apply operator: double * varchar"),
        ("SELECT d - 'x' FROM t", "Cannot apply operator: date - varchar"),
    ],
)
def test_arithmetic_across_type_families_fails_type_mismatch(
    typed: duckdb.DuckDBPyConnection, sql: str, reason: str
) -> None:
    with pytest.raises(duckdb.BinderException) as raised:
        typed.sql(sql).fetchall()

    translated = translate_error(raised.value, sql)

    assert (translated.code, str(translated).split(": ", 1)[1]) == ("TYPE_MISMATCH", reason)


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        (
            "SELECT `user_id` FROM t",
            "SYNTAX_ERROR: line 1:8: backquoted identifiers are not supported; use double quotes "
            "to quote identifiers",
        ),
        (
            "SELECT 1 AS order",
            "SYNTAX_ERROR: line 1:13: mismatched input 'order'. Expecting: <identifier>",
        ),
        (
            "SELECT t.table\nFROM t",
            "SYNTAX_ERROR: line 1:10: mismatched input 'table'. Expecting: <identifier>",
        ),
    ],
)
def test_identifiers_follow_trino_quoting_rules(sql: str, reason: str) -> None:
    with pytest.raises(QueryError) as error:
        dialect.check_identifiers(sql)
    assert str(error.value) == reason


@pytest.mark.parametrize(
    "sql",
    [
        'SELECT 1 AS "order", x AS "table" FROM t',
        "SELECT CAST(x AS DATE) AS day, timestamp, user FROM t -- `not an identifier`",
        "SELECT 'it`s' AS quoted, count(*) AS n FROM t",
    ],
)
def test_quoted_reserved_words_and_non_reserved_keywords_pass(sql: str) -> None:
    dialect.check_identifiers(sql)
