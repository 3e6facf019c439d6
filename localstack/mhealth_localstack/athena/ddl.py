"""Athena's write and catalog statements parsed: CTAS, CREATE EXTERNAL TABLE, views, UNLOAD, ….

Pure parsing; ``engine`` runs them. The grammar is the one the Athena documentation gives
(https://docs.aws.amazon.com/athena/latest/ug/ddl-reference.html):

* ``CREATE TABLE [IF NOT EXISTS] t [WITH (property = value, …)] AS query [WITH [NO] DATA]``
* ``CREATE EXTERNAL TABLE [IF NOT EXISTS] t (col type [COMMENT '…'], …) [COMMENT '…']
  [PARTITIONED BY (col type, …)] [ROW FORMAT DELIMITED FIELDS TERMINATED BY 'c' … |
  ROW FORMAT SERDE 'class' [WITH SERDEPROPERTIES (…)]] [STORED AS PARQUET|TEXTFILE |
  STORED AS INPUTFORMAT '…' OUTPUTFORMAT '…'] LOCATION 's3://…' [TBLPROPERTIES (…)]``
* ``DROP TABLE [IF EXISTS] t``, ``DROP VIEW [IF EXISTS] v``, ``CREATE [OR REPLACE] VIEW v AS q``
* ``ALTER TABLE t ADD [IF NOT EXISTS] PARTITION (k = v, …) [LOCATION '…'] …``,
  ``ALTER TABLE t DROP [IF EXISTS] PARTITION (k = v, …)[, PARTITION (…)]``, ``MSCK REPAIR TABLE t``
* ``UNLOAD (query) TO 's3://…' WITH (property = value, …)``, ``INSERT INTO t [(cols)] query``
* ``SHOW PARTITIONS t``, ``SHOW CREATE TABLE t``, ``SHOW CREATE VIEW v``
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from mhealth_localstack.athena.errors import QueryError
from mhealth_localstack.athena.text import line_column, strip_comments, unquote

# A token: quoted identifier, string literal, number, word, or one punctuation character.
_TOKEN: Final = re.compile(
    r"""\s*(?:(?P<ident>"(?:[^"]|"")+"|`[^`]+`)|(?P<string>'(?:[^']|'')*')"""
    r"""|(?P<number>-?\d+(?:\.\d+)?)|(?P<word>[A-Za-z_][A-Za-z0-9_$@-]*)|(?P<punct>\S))""",
    re.S,
)


@dataclass(frozen=True)
class Token:
    kind: str  # ident, string, number, word, punct
    text: str
    start: int
    end: int

    @property
    def upper(self) -> str:
        return self.text.upper()


@dataclass(frozen=True)
class Name:
    """A table or view name as written: database None means the query's context database."""

    database: str | None
    table: str


@dataclass(frozen=True)
class ColumnDef:
    name: str
    hive_type: str
    comment: str = ""


@dataclass(frozen=True)
class CreateTableAs:
    name: Name
    properties: dict[str, str | list[str]]
    query: str
    query_offset: int
    with_data: bool = True
    if_not_exists: bool = False


@dataclass(frozen=True)
class CreateExternalTable:
    name: Name
    columns: tuple[ColumnDef, ...]
    partition_keys: tuple[ColumnDef, ...]
    location: str
    serde: str
    input_format: str
    output_format: str
    serde_parameters: dict[str, str] = field(default_factory=dict)
    table_properties: dict[str, str] = field(default_factory=dict)
    comment: str = ""
    if_not_exists: bool = False


@dataclass(frozen=True)
class DropTable:
    name: Name
    if_exists: bool
    view: bool = False


@dataclass(frozen=True)
class CreateView:
    name: Name
    query: str
    query_offset: int
    or_replace: bool


@dataclass(frozen=True)
class PartitionSpec:
    values: tuple[tuple[str, str], ...]  # (key, value) as written
    location: str | None = None


@dataclass(frozen=True)
class AlterPartitions:
    name: Name
    add: bool
    partitions: tuple[PartitionSpec, ...]
    if_flag: bool  # IF NOT EXISTS (add) / IF EXISTS (drop)


@dataclass(frozen=True)
class RepairTable:
    name: Name


@dataclass(frozen=True)
class Unload:
    query: str
    query_offset: int
    location: str
    properties: dict[str, str | list[str]]


@dataclass(frozen=True)
class InsertInto:
    name: Name
    columns: tuple[str, ...]
    query: str
    query_offset: int


@dataclass(frozen=True)
class ShowPartitions:
    name: Name


@dataclass(frozen=True)
class ShowCreate:
    name: Name
    view: bool


Statement = (
    CreateTableAs
    | CreateExternalTable
    | DropTable
    | CreateView
    | AlterPartitions
    | RepairTable
    | Unload
    | InsertInto
    | ShowPartitions
    | ShowCreate
)

PARQUET_SERDE: Final = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT: Final = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT: Final = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
TEXT_SERDE: Final = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
TEXT_INPUT: Final = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT: Final = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
_STORED_AS: Final = {
    "PARQUET": (PARQUET_SERDE, PARQUET_INPUT, PARQUET_OUTPUT),
    "TEXTFILE": (TEXT_SERDE, TEXT_INPUT, TEXT_OUTPUT),
}


def tokenize(sql: str) -> list[Token]:
    """The statement's tokens (comments must be blanked out first)."""
    tokens: list[Token] = []
    position = 0
    while True:
        match = _TOKEN.match(sql, position)
        if not match or match.end() == position:
            break
        kind = match.lastgroup or "punct"
        tokens.append(Token(kind, match.group(kind), match.start(kind), match.end()))
        position = match.end()
    return tokens


def _blank_comments(sql: str) -> str:
    """``sql`` with comments replaced by blanks of the same length (offsets stay valid)."""
    return re.sub(
        r"--[^\n]*|/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group(0)), sql, flags=re.S
    )


class _Parser:
    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.text = _blank_comments(sql)
        self.tokens = tokenize(self.text)
        self.index = 0

    # -- primitives ---------------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token | None:
        position = self.index + ahead
        return self.tokens[position] if position < len(self.tokens) else None

    def at(self, *words: str) -> bool:
        for ahead, word in enumerate(words):
            token = self.peek(ahead)
            if token is None or token.upper != word or token.kind not in {"word", "punct"}:
                return False
        return True

    def accept(self, *words: str) -> bool:
        if self.at(*words):
            self.index += len(words)
            return True
        return False

    def fail(self, expected: str) -> QueryError:
        token = self.peek()
        offset = token.start if token else len(self.text.rstrip())
        line, column = line_column(self.sql, offset)
        found = f"'{token.text}'" if token else "end of input"
        return QueryError(
            "SYNTAX_ERROR", f"line {line}:{column}: mismatched input {found}. Expecting: {expected}"
        )

    def expect(self, *words: str) -> None:
        if not self.accept(*words):
            raise self.fail(" ".join(f"'{w}'" for w in words))

    def identifier(self) -> str:
        token = self.peek()
        if token is None or token.kind not in {"ident", "word"}:
            raise self.fail("<identifier>")
        self.index += 1
        return unquote(token.text)

    def string(self) -> str:
        token = self.peek()
        if token is None or token.kind != "string":
            raise self.fail("<string>")
        self.index += 1
        return token.text[1:-1].replace("''", "'")

    def name(self) -> Name:
        parts = [self.identifier()]
        while self.accept("."):
            parts.append(self.identifier())
        if len(parts) > 3:
            raise self.fail("<table name>")
        return Name(parts[-2] if len(parts) > 1 else None, parts[-1])

    def rest(self) -> tuple[str, int]:
        """The remaining statement text (an embedded query) and its offset."""
        token = self.peek()
        if token is None:
            raise self.fail("<query>")
        return self.sql[token.start :].rstrip().removesuffix(";").rstrip(), token.start

    def end(self) -> None:
        self.accept(";")
        if self.peek() is not None:
            raise self.fail("<EOF>")

    def hive_type(self) -> str:
        """A Hive type up to the next top-level ``,``, ``)`` or COMMENT (``array<int>``)."""
        depth = 0
        parts: list[str] = []
        while (token := self.peek()) is not None:
            if depth == 0 and (token.text in {",", ")"} or token.upper == "COMMENT"):
                break
            depth += token.text.count("<") + token.text.count("(")
            depth -= token.text.count(">") + (1 if token.text == ")" else 0)
            parts.append(token.text.lower())
            self.index += 1
        if not parts:
            raise self.fail("<type>")
        return "".join(parts)

    def columns(self) -> tuple[ColumnDef, ...]:
        self.expect("(")
        found: list[ColumnDef] = []
        while True:
            name = self.identifier()
            kind = self.hive_type()
            comment = self.string() if self.accept("COMMENT") else ""
            found.append(ColumnDef(name, _hive_type_name(kind), comment))
            if not self.accept(","):
                break
        self.expect(")")
        return tuple(found)

    def properties(self) -> dict[str, str | list[str]]:
        """``(name = 'value' | ARRAY['a', 'b'] | number | true, …)`` (Trino table properties)."""
        self.expect("(")
        found: dict[str, str | list[str]] = {}
        while True:
            key = self.identifier()
            self.expect("=")
            found[key] = self.property_value()
            if not self.accept(","):
                break
        self.expect(")")
        return found

    def property_value(self) -> str | list[str]:
        if self.accept("ARRAY"):
            self.expect("[")
            values: list[str] = []
            while not self.accept("]"):
                values.append(self.string() if self.peek_kind("string") else self.identifier())
                self.accept(",")
            return values
        token = self.peek()
        if token is None or token.kind not in {"string", "number", "word"}:
            raise self.fail("<property value>")
        self.index += 1
        return token.text[1:-1].replace("''", "'") if token.kind == "string" else token.text

    def peek_kind(self, kind: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == kind

    def key_values(self) -> dict[str, str]:
        """``('key' = 'value', …)`` (Hive SERDEPROPERTIES / TBLPROPERTIES)."""
        self.expect("(")
        found: dict[str, str] = {}
        while not self.accept(")"):
            key = self.string()
            self.expect("=")
            found[key] = self.string()
            self.accept(",")
        return found

    def partition_spec(self) -> PartitionSpec:
        self.expect("PARTITION")
        self.expect("(")
        values: list[tuple[str, str]] = []
        while True:
            key = self.identifier()
            self.expect("=")
            token = self.peek()
            if token is None or token.kind not in {"string", "number"}:
                raise self.fail("<partition value>")
            self.index += 1
            value = token.text[1:-1].replace("''", "'") if token.kind == "string" else token.text
            values.append((key, value))
            if not self.accept(","):
                break
        self.expect(")")
        location = self.string() if self.accept("LOCATION") else None
        return PartitionSpec(tuple(values), location)


def _hive_type_name(text: str) -> str:
    """Trino spellings of Hive types as Glue stores them (``varchar`` → ``string``)."""
    aliases = {"integer": "int", "varchar": "string", "real": "float"}
    return aliases.get(text, text)


def parse(sql: str) -> Statement | None:  # noqa: PLR0911, PLR0912, PLR0915 (a branch per statement)
    """The statement when it is one of this module's kinds, else None (a query or SHOW …)."""
    parser = _Parser(sql)
    if parser.accept("CREATE", "OR", "REPLACE", "VIEW") or parser.at("CREATE", "VIEW"):
        replace = parser.tokens[1].upper == "OR"
        parser.accept("CREATE", "VIEW")
        name = parser.name()
        parser.expect("AS")
        query, offset = parser.rest()
        return CreateView(name, query, offset, replace)
    if parser.accept("CREATE", "EXTERNAL", "TABLE"):
        return _external_table(parser)
    if parser.accept("CREATE", "TABLE"):
        if_not_exists = parser.accept("IF", "NOT", "EXISTS")
        name = parser.name()
        if parser.at("("):
            raise QueryError(
                "NOT_SUPPORTED",
                "CREATE TABLE with a column list makes an Iceberg or managed table, which the "
                "local Athena does not support; use CREATE EXTERNAL TABLE or CREATE TABLE AS",
            )
        properties = parser.properties() if parser.accept("WITH") else {}
        parser.expect("AS")
        query, offset = parser.rest()
        with_data = True
        tail = re.search(r"\s+WITH\s+(NO\s+)?DATA\s*$", query, re.I)
        if tail:
            with_data = tail.group(1) is None
            query = query[: tail.start()]
        if query.startswith("(") and query.endswith(")"):
            query, offset = query[1:-1], offset + 1
        return CreateTableAs(name, properties, query, offset, with_data, if_not_exists)
    if parser.accept("DROP", "TABLE") or parser.accept("DROP", "VIEW"):
        view = parser.tokens[1].upper == "VIEW"
        if_exists = parser.accept("IF", "EXISTS")
        name = parser.name()
        parser.end()
        return DropTable(name, if_exists, view)
    if parser.accept("ALTER", "TABLE"):
        name = parser.name()
        if parser.accept("ADD"):
            if_flag = parser.accept("IF", "NOT", "EXISTS")
            specs = [parser.partition_spec()]
            while parser.at("PARTITION"):
                specs.append(parser.partition_spec())
            parser.end()
            return AlterPartitions(name, True, tuple(specs), if_flag)
        if parser.accept("DROP"):
            if_flag = parser.accept("IF", "EXISTS")
            specs = [parser.partition_spec()]
            while parser.accept(","):
                specs.append(parser.partition_spec())
            parser.end()
            return AlterPartitions(name, False, tuple(specs), if_flag)
        raise QueryError(
            "NOT_SUPPORTED",
            "ALTER TABLE supports ADD PARTITION and DROP PARTITION only in the local Athena",
        )
    if parser.accept("MSCK", "REPAIR", "TABLE"):
        name = parser.name()
        parser.end()
        return RepairTable(name)
    if parser.accept("UNLOAD"):
        return _unload(parser)
    if parser.accept("INSERT", "INTO"):
        name = parser.name()
        columns: list[str] = []
        if parser.at("(") and not parser.at("(", "SELECT") and not parser.at("(", "WITH"):
            parser.expect("(")
            columns.append(parser.identifier())
            while parser.accept(","):
                columns.append(parser.identifier())
            parser.expect(")")
        query, offset = parser.rest()
        return InsertInto(name, tuple(columns), query, offset)
    if parser.accept("SHOW", "PARTITIONS"):
        name = parser.name()
        parser.end()
        return ShowPartitions(name)
    if parser.accept("SHOW", "CREATE", "TABLE") or parser.accept("SHOW", "CREATE", "VIEW"):
        view = parser.tokens[2].upper == "VIEW"
        name = parser.name()
        parser.end()
        return ShowCreate(name, view)
    return None


def _external_table(parser: _Parser) -> CreateExternalTable:  # noqa: PLR0912, PLR0915
    if_not_exists = parser.accept("IF", "NOT", "EXISTS")
    name = parser.name()
    columns = parser.columns()
    comment = parser.string() if parser.accept("COMMENT") else ""
    partition_keys: tuple[ColumnDef, ...] = ()
    serde, input_format, output_format = TEXT_SERDE, TEXT_INPUT, TEXT_OUTPUT
    serde_parameters: dict[str, str] = {}
    table_properties: dict[str, str] = {}
    location = ""
    while parser.peek() is not None and not parser.at(";"):
        if parser.accept("PARTITIONED", "BY"):
            partition_keys = parser.columns()
        elif parser.accept("ROW", "FORMAT", "DELIMITED"):
            serde = TEXT_SERDE
            while True:
                if parser.accept("FIELDS", "TERMINATED", "BY"):
                    delimiter = _escape(parser.string())
                    serde_parameters["field.delim"] = delimiter
                    serde_parameters["serialization.format"] = delimiter
                elif parser.accept("ESCAPED", "BY"):
                    serde_parameters["escape.delim"] = _escape(parser.string())
                elif parser.accept("LINES", "TERMINATED", "BY"):
                    serde_parameters["line.delim"] = _escape(parser.string())
                elif parser.accept("COLLECTION", "ITEMS", "TERMINATED", "BY"):
                    serde_parameters["collection.delim"] = _escape(parser.string())
                elif parser.accept("MAP", "KEYS", "TERMINATED", "BY"):
                    serde_parameters["mapkey.delim"] = _escape(parser.string())
                else:
                    break
        elif parser.accept("ROW", "FORMAT", "SERDE"):
            serde = parser.string()
            if parser.accept("WITH", "SERDEPROPERTIES"):
                serde_parameters.update(parser.key_values())
        elif parser.accept("STORED", "AS", "INPUTFORMAT"):
            input_format = parser.string()
            parser.expect("OUTPUTFORMAT")
            output_format = parser.string()
        elif parser.accept("STORED", "AS"):
            kind = parser.identifier().upper()
            if kind not in _STORED_AS:
                raise QueryError(
                    "NOT_SUPPORTED",
                    f"STORED AS {kind}: the local Athena reads PARQUET and TEXTFILE tables only",
                )
            stored_serde, input_format, output_format = _STORED_AS[kind]
            if kind == "PARQUET" or serde == TEXT_SERDE:
                serde = stored_serde
        elif parser.accept("LOCATION"):
            location = parser.string()
        elif parser.accept("TBLPROPERTIES"):
            table_properties.update(parser.key_values())
        else:
            raise parser.fail("PARTITIONED BY, ROW FORMAT, STORED AS, LOCATION or TBLPROPERTIES")
    parser.end()
    return CreateExternalTable(
        name,
        columns,
        partition_keys,
        location,
        serde,
        input_format,
        output_format,
        serde_parameters,
        table_properties,
        comment,
        if_not_exists,
    )


def _unload(parser: _Parser) -> Unload:
    parser.expect("(")
    open_token = parser.tokens[parser.index - 1]
    depth = 1
    while depth and (token := parser.peek()) is not None:
        depth += {"(": 1, ")": -1}.get(token.text, 0) if token.kind == "punct" else 0
        parser.index += 1
    if depth:
        raise parser.fail("')'")
    close_token = parser.tokens[parser.index - 1]
    query = parser.sql[open_token.end : close_token.start].strip()
    offset = parser.sql.index(query, open_token.end) if query else open_token.end
    parser.expect("TO")
    location = parser.string()
    parser.expect("WITH")
    properties = parser.properties()
    parser.end()
    return Unload(query, offset, location, properties)


def _escape(text: str) -> str:
    """Hive's escapes in a delimiter literal (``'\\t'`` is a tab, ``'\\001'`` is Ctrl-A)."""
    if re.fullmatch(r"\\\d{3}", text):
        return chr(int(text[1:], 8))
    return {"\\t": "\t", "\\n": "\n", "\\r": "\r", "\\\\": "\\"}.get(text, text)


def first_keyword(sql: str) -> str:
    """The statement's first keyword, upper case (``(`` for a parenthesised query)."""
    match = re.match(r"\(|\w+", strip_comments(sql))
    return match.group(0).upper() if match else ""
