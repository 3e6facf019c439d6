"""Athena statements answered by the Glue Data Catalog alone: external tables, partitions, SHOW.

``CREATE EXTERNAL TABLE``, ``DROP TABLE``/``DROP VIEW``, ``ALTER TABLE … ADD/DROP PARTITION``,
``MSCK REPAIR TABLE``, ``SHOW PARTITIONS``, ``SHOW CREATE TABLE``/``VIEW`` and the SHOW/DESCRIBE
statements: no query engine involved. Athena's tables are external, so nothing here deletes data.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow.fs as pafs

from mhealth_localstack import s3uri
from mhealth_localstack.athena import catalog, ddl, glue_tables, statements
from mhealth_localstack.athena.catalog import Column, GlueCatalog, TableSpec
from mhealth_localstack.athena.errors import QueryError
from mhealth_localstack.athena.results import QueryOutput, empty_output, text_output
from mhealth_localstack.athena.statements import DdlKind, DdlStatement


class CatalogStatements:
    """The catalog statements of one query context (catalog name and context database)."""

    def __init__(
        self,
        glue: GlueCatalog,
        catalog_name: str,
        database: str,
        filesystem: Callable[[], pafs.FileSystem],
    ) -> None:
        self._glue = glue
        self._catalog_name = catalog_name
        self._database = database
        self._filesystem = filesystem

    def run(self, statement: ddl.Statement) -> QueryOutput:
        """Execute a catalog statement (never CTAS, INSERT INTO, UNLOAD or CREATE VIEW)."""
        if isinstance(statement, ddl.CreateExternalTable):
            return self._create_external_table(statement)
        if isinstance(statement, ddl.DropTable):
            return self._drop(statement)
        if isinstance(statement, ddl.AlterPartitions):
            return self._alter_partitions(statement)
        if isinstance(statement, ddl.RepairTable):
            return self._repair(statement)
        if isinstance(statement, ddl.ShowPartitions):
            spec = self.table(statement.name)
            if not spec.partition_keys:
                raise QueryError(
                    "NOT_SUPPORTED", f"Table {spec.qualified} is not a partitioned table"
                )
            names = sorted(
                glue_tables.partition_name(spec.partition_keys, p.values) for p in spec.partitions
            )
            return text_output("partition", names)
        if not isinstance(statement, ddl.ShowCreate):
            raise QueryError(
                "NOT_SUPPORTED", f"{type(statement).__name__} is not a catalog statement"
            )
        spec = self.table(statement.name)
        if statement.view and not spec.is_view:
            raise QueryError("NOT_SUPPORTED", f"Relation '{spec.qualified}' is a table, not a view")
        return text_output("createtab_stmt", glue_tables.show_create(spec))

    def database_of(self, name: ddl.Name) -> str:
        database = name.database or self._database
        if not catalog.database_exists(self._glue, database):
            raise QueryError("SCHEMA_NOT_FOUND", f"Schema '{database}' does not exist")
        return database

    def table(self, name: ddl.Name) -> TableSpec:
        database = self.database_of(name)
        spec = catalog.load_table(self._glue, database, name.table)
        if spec is None:
            raise QueryError(
                "TABLE_NOT_FOUND",
                f"Table '{self._catalog_name}.{database}.{name.table}' does not exist",
            )
        return spec

    def _create_external_table(self, st: ddl.CreateExternalTable) -> QueryOutput:
        database = self.database_of(st.name)
        if catalog.load_table(self._glue, database, st.name.table) is not None:
            if st.if_not_exists:
                return empty_output()
            raise QueryError(
                "ALREADY_EXISTS",
                f"Table '{self._catalog_name}.{database}.{st.name.table}' already exists",
            )
        if not s3uri.is_s3_uri(st.location):
            raise QueryError(
                "INVALID_TABLE_PROPERTY",
                f"LOCATION must be an S3 URI (s3://bucket/prefix/), got '{st.location}'",
            )
        for column in (*st.columns, *st.partition_keys):
            catalog.arrow_type(column.hive_type)  # fails on a type the reader cannot map
        names = [c.name for c in (*st.columns, *st.partition_keys)]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise QueryError(
                "DUPLICATE_COLUMN_NAME", f"Column name '{duplicates[0]}' specified more than once"
            )
        table_input = glue_tables.external_table(
            st.name.table,
            [Column(c.name, c.hive_type, c.comment) for c in st.columns],
            [Column(c.name, c.hive_type, c.comment) for c in st.partition_keys],
            location=st.location,
            serde=st.serde,
            input_format=st.input_format,
            output_format=st.output_format,
            serde_parameters=st.serde_parameters,
            table_properties=st.table_properties,
            comment=st.comment,
        )
        self._glue.create_table(DatabaseName=database, TableInput=table_input)
        return empty_output()

    def _drop(self, st: ddl.DropTable) -> QueryOutput:
        database = self.database_of(st.name)
        spec = catalog.load_table(self._glue, database, st.name.table)
        qualified = f"{self._catalog_name}.{database}.{st.name.table}"
        kind = "View" if st.view else "Table"
        if spec is None or spec.is_view != st.view:
            if spec is None and st.if_exists:
                return empty_output()
            if spec is not None and st.view:
                raise QueryError("NOT_SUPPORTED", f"Relation '{qualified}' is a table, not a view")
            if spec is not None:
                raise QueryError(
                    "NOT_SUPPORTED", f"Cannot drop a view with DROP TABLE: '{qualified}'"
                )
            raise QueryError(f"{kind.upper()}_NOT_FOUND", f"{kind} '{qualified}' does not exist")
        # Athena's tables are external: dropping one leaves its data in S3.
        self._glue.delete_table(DatabaseName=database, Name=st.name.table)
        return empty_output()

    def _partition_values(self, spec: TableSpec, partition: ddl.PartitionSpec) -> tuple[str, ...]:
        given = dict(partition.values)
        keys = [k.name for k in spec.partition_keys]
        if sorted(given) != sorted(keys):
            raise QueryError(
                "HIVE_METASTORE_ERROR",
                f"Partition spec {{{', '.join(f'{k}={v}' for k, v in partition.values)}}} does "
                f"not match the partition keys of {spec.qualified}: [{', '.join(keys)}]",
            )
        return tuple(given[k] for k in keys)

    def _alter_partitions(self, st: ddl.AlterPartitions) -> QueryOutput:
        spec = self.table(st.name)
        known = {p.values for p in spec.partitions}
        wanted = [(self._partition_values(spec, p), p.location) for p in st.partitions]
        if st.add:
            present = [v for v, _ in wanted if v in known]
            if present and not st.if_flag:
                raise QueryError(
                    "ALREADY_EXISTS",
                    "Partition already exists: "
                    + glue_tables.partition_name(spec.partition_keys, present[0]),
                )
            self.add_partitions(
                spec,
                [
                    (v, location or partition_location(spec, v))
                    for v, location in wanted
                    if v not in known
                ],
            )
            return empty_output()
        missing = [v for v, _ in wanted if v not in known]
        if missing and not st.if_flag:
            raise QueryError(
                "HIVE_METASTORE_ERROR",
                "Partition not found: "
                + glue_tables.partition_name(spec.partition_keys, missing[0]),
            )
        to_drop = [{"Values": list(v)} for v, _ in wanted if v in known]
        for start in range(0, len(to_drop), 25):
            self._glue.batch_delete_partition(
                DatabaseName=spec.database,
                TableName=spec.name,
                PartitionsToDelete=to_drop[start : start + 25],
            )
        return empty_output()

    def add_partitions(
        self, spec: TableSpec, partitions: list[tuple[tuple[str, ...], str]]
    ) -> None:
        inputs = [glue_tables.partition_input(spec, v, loc) for v, loc in partitions]
        for start in range(0, len(inputs), 100):
            response = self._glue.batch_create_partition(
                DatabaseName=spec.database,
                TableName=spec.name,
                PartitionInputList=inputs[start : start + 100],
            )
            errors = [
                e
                for e in response.get("Errors", [])
                if (e.get("ErrorDetail") or {}).get("ErrorCode") != "AlreadyExistsException"
            ]
            if errors:
                detail = errors[0].get("ErrorDetail") or {}
                raise QueryError(
                    "HIVE_METASTORE_ERROR",
                    f"Cannot add partition {errors[0].get('PartitionValues')}: "
                    f"{detail.get('ErrorMessage', detail)}",
                )

    def _repair(self, st: ddl.RepairTable) -> QueryOutput:
        spec = self.table(st.name)
        if not spec.partition_keys:
            return text_output("result", [])
        root = catalog.s3_path(spec.location)
        found = catalog.hive_partitions(spec, self._filesystem())
        known = {p.values for p in spec.partitions}
        new = sorted(set(found) - known)
        self.add_partitions(spec, [(v, f"s3://{root}/{found[v]}/") for v in new])
        names = [f"{spec.name}:{glue_tables.partition_name(spec.partition_keys, v)}" for v in new]
        lines = []
        if names:
            lines.append("Partitions not in metastore:\t" + "\t".join(names))
            lines += [f"Repair: Added partition to metastore {name}" for name in names]
        return text_output("result", lines)

    def show(self, show: DdlStatement) -> QueryOutput:
        """SHOW DATABASES/TABLES/COLUMNS and DESCRIBE, in Athena's row shape."""
        database = show.database or self._database
        if show.kind is DdlKind.SHOW_DATABASES:
            names = catalog.list_databases(self._glue)
            return text_output("database_name", _filter(names, show))
        if show.kind is DdlKind.SHOW_TABLES:
            if not catalog.database_exists(self._glue, database):
                raise QueryError("SCHEMA_NOT_FOUND", f"Schema '{database}' does not exist")
            return text_output("tab_name", _filter(catalog.list_tables(self._glue, database), show))
        spec = catalog.load_table(self._glue, database, show.table or "")
        if spec is None:
            raise QueryError(
                "TABLE_NOT_FOUND",
                f"Table '{self._catalog_name}.{database}.{show.table}' does not exist",
            )
        if show.kind is DdlKind.SHOW_COLUMNS:
            return text_output("field", [c.name for c in spec.all_columns])
        lines = [f"{c.name:<20}\t{c.hive_type:<20}\t{c.comment}" for c in spec.all_columns]
        if spec.partition_keys:
            lines += [
                "",
                "# Partition Information",
                f"{'# col_name':<20}\t{'data_type':<20}\tcomment",
                "",
            ]
            lines += [f"{c.name:<20}\t{c.hive_type:<20}\t{c.comment}" for c in spec.partition_keys]
        return text_output("col_name", lines)


def _filter(names: list[str], show: DdlStatement) -> list[str]:
    if show.regex is not None:
        pattern = statements.table_regex(show.regex)
    elif show.like is not None:
        pattern = statements.like_to_regex(show.like)
    else:
        return names
    return [name for name in names if pattern.fullmatch(name)]


def partition_location(spec: TableSpec, values: tuple[str, ...]) -> str:
    base = spec.location if spec.location.endswith("/") else spec.location + "/"
    return f"{base}{glue_tables.partition_name(spec.partition_keys, values)}/"
