"""Athena's catalog API shapes built from Glue's: table metadata, filters, paging, errors."""

from __future__ import annotations

from typing import Any

import pytest
from mhealth_localstack.athena import data_catalog
from mhealth_localstack.athena.data_catalog import CatalogError

from mhealth.core.table import table_input


class FakeGlue:
    """Glue's get_* calls over fixed tables, two tables per page, as Glue pages them."""

    def __init__(self, tables: list[dict[str, Any]]) -> None:
        self.tables = tables

    def get_databases(self, **kwargs: Any) -> Any:
        return {"DatabaseList": [{"Name": "db", "LocationUri": "s3://b/db/"}]}

    def get_database(self, **kwargs: Any) -> Any:
        return {"Database": {"Name": kwargs["Name"]}}

    def get_tables(self, **kwargs: Any) -> Any:
        start = int(kwargs.get("NextToken") or 0)
        page: dict[str, Any] = {"TableList": self.tables[start : start + 2]}
        if start + 2 < len(self.tables):
            page["NextToken"] = str(start + 2)
        return page

    def get_table(self, **kwargs: Any) -> Any:
        for table in self.tables:
            if table["Name"] == kwargs["Name"]:
                return {"Table": table}
        error = Exception("not found")
        error.response = {"Error": {"Code": "EntityNotFoundException"}}  # type: ignore[attr-defined]
        raise error


@pytest.fixture
def glue() -> FakeGlue:
    names = ["mhealth", "events", "mhealth_daily", "other"]
    return FakeGlue([table_input(name, f"s3://bucket/{name}/") for name in names])


def test_table_metadata_folds_the_storage_descriptor_into_parameters(glue: FakeGlue) -> None:
    metadata = data_catalog.get_table_metadata(glue, "db", "mhealth")

    assert metadata["Name"] == "mhealth"
    assert metadata["TableType"] == "EXTERNAL_TABLE"
    assert [(c["Name"], c["Type"]) for c in metadata["Columns"]] == [
        ("activity", "string"),
        ("timestamp", "timestamp"),
        ("sensor1", "double"),
        ("sensor2", "double"),
        ("sensor3", "double"),
    ]
    assert metadata["PartitionKeys"] == [{"Name": "user_id", "Type": "string"}]
    parameters = metadata["Parameters"]
    assert parameters["location"] == "s3://bucket/mhealth/"
    assert parameters["inputformat"].endswith("MapredParquetInputFormat")
    assert parameters["serde.serialization.lib"].endswith("ParquetHiveSerDe")
    assert parameters["serde.param.serialization.format"] == "1"
    assert parameters["classification"] == "parquet"


def test_list_table_metadata_reads_every_glue_page_and_sorts_by_name(glue: FakeGlue) -> None:
    names = [t["Name"] for t in data_catalog.list_table_metadata(glue, "db", None)]
    assert names == ["events", "mhealth", "mhealth_daily", "other"]


def test_expression_is_a_regex_matching_the_whole_name_case_insensitively(glue: FakeGlue) -> None:
    names = [t["Name"] for t in data_catalog.list_table_metadata(glue, "db", "MHEALTH|ev.*")]
    assert names == ["events", "mhealth"]


def test_a_bad_expression_is_an_invalid_request(glue: FakeGlue) -> None:
    with pytest.raises(CatalogError) as raised:
        data_catalog.list_table_metadata(glue, "db", "(")
    assert raised.value.code == "InvalidRequestException"


def test_unknown_table_is_a_metadata_exception(glue: FakeGlue) -> None:
    with pytest.raises(CatalogError) as raised:
        data_catalog.get_table_metadata(glue, "db", "missing")
    assert (raised.value.code, raised.value.message) == (
        "MetadataException",
        "Table missing not found in database db.",
    )


def test_pages_chain_through_next_token_and_reject_foreign_tokens() -> None:
    items = [{"Name": str(i)} for i in range(5)]
    first = data_catalog.page_of(items, "scope", None, 2)
    second = data_catalog.page_of(items, "scope", first["NextToken"], 2)
    third = data_catalog.page_of(items, "scope", second["NextToken"], 2)

    assert [i["Name"] for i in first["Items"] + second["Items"] + third["Items"]] == list("01234")
    assert "NextToken" not in third
    with pytest.raises(CatalogError):
        data_catalog.page_of(items, "other scope", first["NextToken"], 2)


@pytest.mark.parametrize("size", [0, 51])
def test_max_results_outside_athena_bounds_is_rejected(size: int) -> None:
    with pytest.raises(CatalogError):
        data_catalog.page_size(size, data_catalog.MAX_TABLES)


def test_only_the_glue_catalog_holds_databases() -> None:
    data_catalog.check_catalog("awsdatacatalog")
    data_catalog.check_catalog(None)
    with pytest.raises(CatalogError):
        data_catalog.check_catalog("hive_metastore")
