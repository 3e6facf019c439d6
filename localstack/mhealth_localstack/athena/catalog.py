"""Glue Data Catalog tables as pyarrow datasets over the emulated S3 (Hive partitions included)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from mhealth_localstack import s3uri
from mhealth_localstack.athena.errors import QueryError

HIVE_NULL_PARTITION: Final = "__HIVE_DEFAULT_PARTITION__"
_PARQUET_MARKERS: Final = ("parquet",)


class GlueCatalog(Protocol):
    """The slice of a boto3 Glue client this module uses."""

    def get_table(self, **kwargs: Any) -> Any: ...
    def get_tables(self, **kwargs: Any) -> Any: ...
    def get_database(self, **kwargs: Any) -> Any: ...
    def get_databases(self, **kwargs: Any) -> Any: ...
    def get_partitions(self, **kwargs: Any) -> Any: ...
    def create_table(self, **kwargs: Any) -> Any: ...
    def update_table(self, **kwargs: Any) -> Any: ...
    def delete_table(self, **kwargs: Any) -> Any: ...
    def batch_create_partition(self, **kwargs: Any) -> Any: ...
    def batch_delete_partition(self, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class Column:
    """A catalog column: name (lower case) and Hive type string."""

    name: str
    hive_type: str
    comment: str = ""


@dataclass(frozen=True)
class Partition:
    """A catalog partition: one value per partition key (strings, as Glue stores them)."""

    values: tuple[str, ...]
    location: str


@dataclass(frozen=True)
class TableSpec:
    """What the query engine needs of a Glue table."""

    database: str
    name: str
    columns: tuple[Column, ...]
    partition_keys: tuple[Column, ...]
    location: str
    input_format: str
    serde: str
    table_type: str
    partitions: tuple[Partition, ...] = field(default=())
    serde_parameters: Mapping[str, str] = field(default_factory=dict)
    parameters: Mapping[str, str] = field(default_factory=dict)
    view_original_text: str = ""
    output_format: str = ""

    @property
    def all_columns(self) -> tuple[Column, ...]:
        """Data columns then partition keys: the order Athena shows."""
        return self.columns + self.partition_keys

    @property
    def is_parquet(self) -> bool:
        text = f"{self.input_format} {self.serde}".lower()
        return any(marker in text for marker in _PARQUET_MARKERS)

    @property
    def is_delimited_text(self) -> bool:
        """Hive's LazySimpleSerDe over text files (``ROW FORMAT DELIMITED``)."""
        return self.serde.endswith("LazySimpleSerDe") or (
            not self.serde and self.input_format.endswith("TextInputFormat")
        )

    @property
    def is_view(self) -> bool:
        return self.table_type == "VIRTUAL_VIEW"

    @property
    def qualified(self) -> str:
        return f"{self.database}.{self.name}"


def _columns(raw: Iterable[Mapping[str, Any]]) -> tuple[Column, ...]:
    return tuple(
        Column(str(c["Name"]).lower(), str(c.get("Type", "string")).lower(), c.get("Comment", ""))
        for c in raw
    )


def _is_not_found(error: Exception) -> bool:
    code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
    return bool(code == "EntityNotFoundException")


def database_exists(glue: GlueCatalog, database: str) -> bool:
    """Whether the Glue database exists."""
    try:
        glue.get_database(Name=database)
    except Exception as error:
        if _is_not_found(error):
            return False
        raise
    return True


def list_databases(glue: GlueCatalog) -> list[str]:
    """Names of all Glue databases, sorted."""
    names: list[str] = []
    token: str | None = None
    while True:
        page = glue.get_databases(**({"NextToken": token} if token else {}))
        names.extend(db["Name"] for db in page.get("DatabaseList", []))
        token = page.get("NextToken")
        if not token:
            return sorted(names)


def list_tables(glue: GlueCatalog, database: str) -> list[str]:
    """Names of the tables in a Glue database, sorted."""
    names: list[str] = []
    token: str | None = None
    while True:
        args: dict[str, Any] = {"DatabaseName": database}
        if token:
            args["NextToken"] = token
        page = glue.get_tables(**args)
        names.extend(table["Name"] for table in page.get("TableList", []))
        token = page.get("NextToken")
        if not token:
            return sorted(names)


def load_table(glue: GlueCatalog, database: str, table: str) -> TableSpec | None:
    """The Glue table with its partitions, or None when the database or table does not exist."""
    try:
        raw = glue.get_table(DatabaseName=database, Name=table)["Table"]
    except Exception as error:
        if _is_not_found(error):
            return None
        raise
    descriptor = raw.get("StorageDescriptor") or {}
    spec = TableSpec(
        database=database,
        name=table,
        columns=_columns(descriptor.get("Columns", [])),
        partition_keys=_columns(raw.get("PartitionKeys", [])),
        location=str(descriptor.get("Location", "")),
        input_format=str(descriptor.get("InputFormat", "")),
        serde=str((descriptor.get("SerdeInfo") or {}).get("SerializationLibrary", "")),
        table_type=str(raw.get("TableType", "")),
        serde_parameters=dict((descriptor.get("SerdeInfo") or {}).get("Parameters") or {}),
        parameters=dict(raw.get("Parameters") or {}),
        view_original_text=str(raw.get("ViewOriginalText") or ""),
        output_format=str(descriptor.get("OutputFormat", "")),
    )
    if not spec.partition_keys:
        return spec
    partitions: list[Partition] = []
    token: str | None = None
    while True:
        args: dict[str, Any] = {"DatabaseName": database, "TableName": table}
        if token:
            args["NextToken"] = token
        page = glue.get_partitions(**args)
        for part in page.get("Partitions", []):
            location = str((part.get("StorageDescriptor") or {}).get("Location", ""))
            partitions.append(Partition(tuple(str(v) for v in part.get("Values", [])), location))
        token = page.get("NextToken")
        if not token:
            break
    return TableSpec(**{**spec.__dict__, "partitions": tuple(partitions)})


# -- Hive types → Arrow types -------------------------------------------------------------------

_SIMPLE_TYPES: Final[dict[str, Callable[[], pa.DataType]]] = {
    "string": pa.string,
    "varchar": pa.string,
    "char": pa.string,
    "bigint": pa.int64,
    "int": pa.int32,
    "integer": pa.int32,
    "smallint": pa.int16,
    "tinyint": pa.int8,
    "double": pa.float64,
    "float": pa.float32,
    "real": pa.float32,
    "boolean": pa.bool_,
    "date": pa.date32,
    "timestamp": lambda: pa.timestamp("us"),
    "binary": pa.binary,
}


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    start = 0
    for index, char in enumerate(text):
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return [part for part in parts if part]


def arrow_type(hive_type: str) -> pa.DataType:
    """The Arrow type of a Hive type (``decimal(10,2)``, ``array<string>``, ``struct<…>``)."""
    text = hive_type.strip().lower()
    base = re.match(r"[a-z_]+", text)
    name = base.group(0) if base else text
    if name in _SIMPLE_TYPES and (name in {"varchar", "char"} or text == name):
        return _SIMPLE_TYPES[name]()
    if name == "decimal":
        args = re.findall(r"\d+", text)
        precision = int(args[0]) if args else 10
        scale = int(args[1]) if len(args) > 1 else 0
        return pa.decimal128(precision, scale)
    inner = text[text.find("<") + 1 : text.rfind(">")] if "<" in text else ""
    if name == "array":
        return pa.list_(arrow_type(inner))
    if name == "map":
        key, value = _split_top_level(inner)
        return pa.map_(arrow_type(key), arrow_type(value))
    if name == "struct":
        fields = []
        for member in _split_top_level(inner):
            member_name, _, member_type = member.partition(":")
            fields.append(pa.field(member_name.strip(), arrow_type(member_type)))
        return pa.struct(fields)
    raise QueryError("NOT_SUPPORTED", f"Unsupported Hive type: {hive_type}")


def _partition_scalar(value: str, kind: pa.DataType) -> Any:
    text = unquote(value)
    if text == HIVE_NULL_PARTITION:
        return None
    try:
        return pa.scalar(text).cast(kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise QueryError(
            "HIVE_INVALID_PARTITION_VALUE", f"Invalid partition value '{text}' for type {kind}"
        ) from error


def _partition_expression(keys: tuple[Column, ...], values: Mapping[str, str]) -> ds.Expression:
    expression: ds.Expression | None = None
    for key in keys:
        scalar = _partition_scalar(values[key.name], arrow_type(key.hive_type))
        term = ds.field(key.name).is_null() if scalar is None else ds.field(key.name) == scalar
        expression = term if expression is None else expression & term
    return expression if expression is not None else ds.scalar(True)


# -- S3 listing --------------------------------------------------------------------------------


def s3_path(uri: str) -> str:
    """``s3://bucket/key/`` as the ``bucket/key`` path pyarrow's S3 filesystem uses."""
    try:
        return s3uri.path(uri)
    except ValueError:
        raise QueryError(
            "HIVE_METASTORE_ERROR", f"Table location is not an S3 URI: '{uri}'"
        ) from None


def _is_data_file(info: pafs.FileInfo) -> bool:
    # Hive, Spark and Athena skip hidden/bookkeeping files (_SUCCESS, .crc, folder markers).
    if info.type != pafs.FileType.File or not info.size:
        return False
    base = info.base_name
    return not (base.startswith(("_", ".")) or base.endswith("$folder$"))


def _list_files(fs: pafs.FileSystem, path: str) -> list[pafs.FileInfo]:
    try:
        infos = fs.get_file_info(pafs.FileSelector(path, recursive=True, allow_not_found=True))
    except OSError as error:
        raise QueryError("HIVE_CANNOT_OPEN_SPLIT", f"Cannot list {path}: {error}") from error
    return [info for info in infos if _is_data_file(info)]


def _hive_values(relative: str, keys: tuple[Column, ...]) -> dict[str, str] | None:
    found: dict[str, str] = {}
    for segment in relative.split("/")[:-1]:
        name, sep, value = segment.partition("=")
        if sep:
            found[name.lower()] = value
    if all(key.name in found for key in keys):
        return {key.name: found[key.name] for key in keys}
    return None


@dataclass(frozen=True)
class TableData:
    """A table's files as one Arrow dataset in catalog column order, with its size in bytes."""

    dataset: ds.Dataset
    bytes_total: int
    file_count: int
    text: bool = False  # data columns are strings, cast to their types by the query engine


def table_dataset(spec: TableSpec, fs: pafs.FileSystem) -> TableData:
    """Every data file of the table, each with its partition values, as one pyarrow dataset.

    Partition values come from the catalog's partitions and, for files under the table
    location not covered by one, from Hive directory names (``user_id=3/``).
    """
    text = not spec.is_parquet
    if text and not spec.is_delimited_text:
        raise QueryError(
            "NOT_SUPPORTED",
            f"Table '{spec.database}.{spec.name}' uses {spec.serde or spec.input_format or 'no'} "
            "storage; the local Athena reads Parquet and delimited text tables only",
        )
    file_format: ds.FileFormat = ds.ParquetFileFormat()
    if text:
        file_format = _text_format(spec)
        schema = pa.schema(
            [pa.field(c.name, pa.string()) for c in spec.columns]
            + [pa.field(c.name, arrow_type(c.hive_type)) for c in spec.partition_keys]
        )
    else:
        schema = pa.schema([pa.field(c.name, arrow_type(c.hive_type)) for c in spec.all_columns])
    root = s3_path(spec.location)
    files: dict[str, tuple[int, ds.Expression]] = {}
    if spec.partition_keys:
        for info in _list_files(fs, root):
            values = _hive_values(info.path[len(root) + 1 :], spec.partition_keys)
            if values is not None:
                files[info.path] = (info.size, _partition_expression(spec.partition_keys, values))
        for partition in spec.partitions:
            if len(partition.values) != len(spec.partition_keys) or not partition.location:
                continue
            values = dict(zip((k.name for k in spec.partition_keys), partition.values, strict=True))
            expression = _partition_expression(spec.partition_keys, values)
            prefix = s3_path(partition.location)
            for info in _list_files(fs, prefix):
                files[info.path] = (info.size, expression)
    else:
        files = {info.path: (info.size, ds.scalar(True)) for info in _list_files(fs, root)}
    paths = sorted(files)
    dataset = ds.FileSystemDataset.from_paths(
        paths,
        schema=schema,
        format=file_format,
        filesystem=fs,
        partitions=[files[path][1] for path in paths],
    )
    return TableData(dataset, sum(size for size, _ in files.values()), len(paths), text)


def _text_format(spec: TableSpec) -> ds.CsvFileFormat:
    """Hive's LazySimpleSerDe as a CSV reader: no quoting, no header, every field a string.

    Hive's default field delimiter is Ctrl-A (\\001). A line with too few or too many fields is
    skipped (Hive would pad with NULLs or drop the extra fields): a known difference.
    """
    delimiter = spec.serde_parameters.get("field.delim") or spec.serde_parameters.get(
        "serialization.format", "\x01"
    )
    if len(delimiter) != 1:
        delimiter = "\x01" if not delimiter.isdigit() else chr(int(delimiter))
    header = int(spec.parameters.get("skip.header.line.count", "0") or 0)
    return ds.CsvFileFormat(
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter,
            quote_char=False,
            escape_char=spec.serde_parameters.get("escape.delim") or False,
            invalid_row_handler=lambda _row: "skip",
        ),
        read_options=pacsv.ReadOptions(
            column_names=[c.name for c in spec.columns], skip_rows=header, block_size=1 << 22
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={c.name: pa.string() for c in spec.columns},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            null_values=["\\N"],
        ),
    )


def hive_partitions(spec: TableSpec, fs: pafs.FileSystem) -> dict[tuple[str, ...], str]:
    """Partitions found as ``key=value/`` folders under the table location (MSCK REPAIR TABLE).

    Maps the partition values (catalog key order, URL-decoded) to the folder path relative to
    the location.
    """
    root = s3_path(spec.location)
    found: dict[tuple[str, ...], str] = {}
    depth = len(spec.partition_keys)
    for info in _list_files(fs, root):
        segments = info.path[len(root) + 1 :].split("/")[:-1]
        if len(segments) < depth:
            continue
        folders = segments[:depth]
        pairs = [segment.partition("=") for segment in folders]
        names = [name.lower() for name, _, _ in pairs]
        if names != [key.name for key in spec.partition_keys] or any(not s for _, s, _ in pairs):
            continue
        found.setdefault(tuple(unquote(v) for _, _, v in pairs), "/".join(folders))
    return found
