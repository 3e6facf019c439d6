"""The Glue Data Catalog definition of mhealth_db.mhealth."""

from __future__ import annotations

from mhealth.core.table import PARQUET_SERDE, partition_input, table_input


def test_table_input_describes_the_partitioned_parquet_table() -> None:
    table = table_input("mhealth", "s3://bucket/processed")
    descriptor = table["StorageDescriptor"]
    assert table["Name"] == "mhealth"
    assert table["TableType"] == "EXTERNAL_TABLE"
    assert table["Parameters"]["classification"] == "parquet"
    assert descriptor["Location"] == "s3://bucket/processed/"
    assert descriptor["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
    assert [(c["Name"], c["Type"]) for c in descriptor["Columns"]] == [
        ("activity", "string"),
        ("timestamp", "timestamp"),
        ("sensor1", "double"),
        ("sensor2", "double"),
        ("sensor3", "double"),
    ]
    assert table["PartitionKeys"] == [{"Name": "user_id", "Type": "string"}]


def test_partition_input_points_at_the_hive_directory() -> None:
    partition = partition_input("s3://bucket/processed/", "7")
    assert partition["Values"] == ["7"]
    assert partition["StorageDescriptor"]["Location"] == "s3://bucket/processed/user_id=7/"
