"""Runs one Athena client against the local stage and prints what it saw as JSON.

Run by ``test_athena_clients.py`` with the interpreter of the environment under test
(``.venv-clients``: the newest boto3, AWS CLI, PyAthena, awswrangler; or the project's own
``.venv`` for the locked boto3), so the project environment keeps its pinned versions. It
imports only the client libraries and the standard library.

    python athena_client_probe.py CASE    # settings in the MHEALTH_PROBE environment variable

``MHEALTH_PROBE`` is JSON: ``endpoint_url``, ``region``, ``database``, ``table``,
``output`` (``s3://bucket/prefix/``), ``workgroup_output`` (for the work-group case).
Credentials come from the usual ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` variables;
``AWS_ENDPOINT_URL`` points the S3 readers (boto3, pyarrow) at the local stage.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

QUERY_DEADLINE_S = 60.0


def _settings() -> dict[str, str]:
    return dict(json.loads(os.environ["MHEALTH_PROBE"]))


def _counts_sql(s: dict[str, str]) -> str:
    return (
        f'SELECT user_id, COUNT(*) AS n, SUM(sensor1) AS sum_sensor1 FROM "{s["database"]}".'
        f'"{s["table"]}" GROUP BY user_id ORDER BY user_id'
    )


def _boto3_client(s: dict[str, str], service: str) -> Any:
    import boto3

    return boto3.session.Session(region_name=s["region"]).client(
        service,  # type: ignore[call-overload]
        endpoint_url=s["endpoint_url"],
    )


def _wait(athena: Any, query_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + QUERY_DEADLINE_S
    while True:
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        if execution["Status"]["State"] in {"SUCCEEDED", "FAILED", "CANCELLED"}:
            return dict(execution)
        if time.monotonic() > deadline:
            raise TimeoutError(f"query {query_id} still {execution['Status']['State']}")
        time.sleep(0.2)


def _rows(athena: Any, query_id: str) -> tuple[list[dict[str, Any]], list[list[str | None]]]:
    pages = athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id)
    columns: list[dict[str, Any]] = []
    values: list[list[str | None]] = []
    for page in pages:
        columns = columns or page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
        values += [[d.get("VarCharValue") for d in r["Data"]] for r in page["ResultSet"]["Rows"]]
    return columns, values


def probe_boto3(s: dict[str, str]) -> dict[str, Any]:
    """Plain boto3: a query round trip, the catalog API, a work group's enforced location."""
    import botocore.exceptions

    athena, s3 = _boto3_client(s, "athena"), _boto3_client(s, "s3")
    query_id = athena.start_query_execution(
        QueryString=_counts_sql(s), ResultConfiguration={"OutputLocation": s["output"]}
    )["QueryExecutionId"]
    execution = _wait(athena, query_id)
    columns, values = _rows(athena, query_id)

    paged: list[str] = []
    kwargs: dict[str, Any] = {"CatalogName": "AwsDataCatalog", "DatabaseName": s["database"]}
    while True:
        page = athena.list_table_metadata(MaxResults=1, **kwargs)
        paged += [t["Name"] for t in page["TableMetadataList"]]
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    filtered = athena.list_table_metadata(
        CatalogName="AwsDataCatalog", DatabaseName=s["database"], Expression="mh.*"
    )["TableMetadataList"]
    metadata = athena.get_table_metadata(
        CatalogName="AwsDataCatalog", DatabaseName=s["database"], TableName=s["table"]
    )["TableMetadata"]

    group = f"probe-{uuid.uuid4().hex[:8]}"
    athena.create_work_group(
        Name=group,
        Configuration={
            "ResultConfiguration": {"OutputLocation": s["workgroup_output"]},
            "EnforceWorkGroupConfiguration": True,
        },
    )
    enforced_id = athena.start_query_execution(
        QueryString="SELECT 1",
        WorkGroup=group,
        ResultConfiguration={"OutputLocation": s["output"]},
    )["QueryExecutionId"]
    enforced = _wait(athena, enforced_id)
    enforced_location = enforced["ResultConfiguration"]["OutputLocation"]
    bucket, _, key = enforced_location.removeprefix("s3://").partition("/")
    enforced_size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
    group_info = athena.get_work_group(WorkGroup=group)["WorkGroup"]
    # Operations the extension hands to moto, which only speaks the older protocol.
    named_id = athena.create_named_query(
        Name="per user", Database=s["database"], QueryString=_counts_sql(s), WorkGroup=group
    )["NamedQueryId"]
    named = athena.get_named_query(NamedQueryId=named_id)["NamedQuery"]

    errors: dict[str, list[str]] = {}
    calls: dict[str, Callable[[], object]] = {
        "unknown_table": lambda: athena.get_table_metadata(
            CatalogName="AwsDataCatalog", DatabaseName=s["database"], TableName="no_such_table"
        ),
        "unknown_query": lambda: athena.get_query_execution(
            QueryExecutionId="00000000-0000-0000-0000-000000000000"
        ),
    }
    for name, call in calls.items():
        try:
            call()
        except botocore.exceptions.ClientError as error:
            errors[name] = [error.response["Error"]["Code"], error.response["Error"]["Message"]]

    return {
        "botocore": botocore.__version__,
        "errors": errors,
        "protocol": athena.meta.service_model.protocol,
        "state": execution["Status"]["State"],
        "column_types": [c["Type"] for c in columns],
        "rows": values,
        "catalogs": [c["CatalogName"] for c in athena.list_data_catalogs()["DataCatalogsSummary"]],
        "catalog_type": athena.get_data_catalog(Name="AwsDataCatalog")["DataCatalog"]["Type"],
        "databases": [
            d["Name"]
            for d in athena.list_databases(CatalogName="AwsDataCatalog", MaxResults=50)[
                "DatabaseList"
            ]
        ],
        "database": athena.get_database(CatalogName="AwsDataCatalog", DatabaseName=s["database"])[
            "Database"
        ]["Name"],
        "tables_paged": paged,
        "tables_filtered": [t["Name"] for t in filtered],
        "table_columns": [[c["Name"], c["Type"]] for c in metadata["Columns"]],
        "table_partition_keys": [[c["Name"], c["Type"]] for c in metadata["PartitionKeys"]],
        "table_location": metadata["Parameters"].get("location"),
        "table_type": metadata["TableType"],
        "workgroups_listed": group in [w["Name"] for w in athena.list_work_groups()["WorkGroups"]],
        "named_query": [named["Name"], named["Database"], named["QueryString"] == _counts_sql(s)],
        "workgroup_enforced": group_info["Configuration"]["EnforceWorkGroupConfiguration"],
        "enforced_location": enforced_location,
        "enforced_result_bytes": enforced_size,
    }


def _pyathena_connect(s: dict[str, str], **kwargs: Any) -> Any:
    from pyathena import connect

    return connect(
        s3_staging_dir=s["output"],
        region_name=s["region"],
        endpoint_url=s["endpoint_url"],
        schema_name=s["database"],
        **kwargs,
    )


def probe_pyathena_cursor(s: dict[str, str]) -> dict[str, Any]:
    """PyAthena's DB-API cursor, with a bound parameter."""
    cursor = _pyathena_connect(s).cursor()
    cursor.execute(
        f'SELECT activity, sensor1, "timestamp" FROM "{s["table"]}" '
        'WHERE user_id = %(user)s ORDER BY "timestamp"',
        {"user": "2"},
    )
    rows = cursor.fetchall()
    return {
        "description": [[d[0], d[1]] for d in cursor.description],
        "rows": [[r[0], r[1], r[2].isoformat()] for r in rows],
        "rowcount_like": len(rows),
    }


def probe_pandas_cursor(s: dict[str, str]) -> dict[str, Any]:
    """PyAthena's PandasCursor: results read from the CSV in S3 into a DataFrame."""
    from pyathena.pandas.cursor import PandasCursor

    cursor = _pyathena_connect(s, cursor_class=PandasCursor).cursor()
    frame = cursor.execute(f'SELECT * FROM "{s["table"]}"').as_pandas()
    per_user = frame.groupby("user_id").size()
    return {
        "columns": list(frame.columns),
        "dtypes": {name: str(dtype) for name, dtype in frame.dtypes.items()},
        "rows": len(frame),
        "per_user": {str(k): int(v) for k, v in per_user.items()},
        "sum_sensor1": round(float(frame["sensor1"].sum()), 6),
    }


def point_arrow_cursor_at(endpoint_url: str) -> None:
    """Make PyAthena's ArrowCursor read result files from ``endpoint_url``'s S3.

    The cursor reads them with a pyarrow ``S3FileSystem`` that PyAthena (4.2.1) builds with
    no ``endpoint_override``, and pyarrow ignores ``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_S3``
    (https://github.com/apache/arrow/issues/49643): without this it always reads from AWS.
    The README's "Querying" section shows the same few lines.
    """
    from urllib.parse import urlsplit

    from pyarrow import fs
    from pyathena.arrow.result_set import AthenaArrowResultSetMetadataReader

    parts = urlsplit(endpoint_url)

    def create_local(self: Any) -> Any:
        credentials = self._connection.session.get_credentials().get_frozen_credentials()
        return fs.S3FileSystem(
            access_key=credentials.access_key,
            secret_key=credentials.secret_key,
            session_token=credentials.token,
            region=self._connection.region_name,
            endpoint_override=parts.netloc,
            scheme="https" if parts.scheme == "https" else "http",
        )

    # PyAthena is typed where it is installed (.venv-clients); the project's .venv lacks it.
    AthenaArrowResultSetMetadataReader._create_s3_file_system = create_local  # type: ignore[method-assign,unused-ignore]


def probe_arrow_cursor(s: dict[str, str]) -> dict[str, Any]:
    """PyAthena's ArrowCursor: results as a pyarrow Table."""
    from pyathena.arrow.cursor import ArrowCursor

    point_arrow_cursor_at(s["endpoint_url"])

    cursor = _pyathena_connect(s, cursor_class=ArrowCursor).cursor()
    table = cursor.execute(
        f'SELECT user_id, COUNT(*) AS n, MAX("timestamp") AS last FROM "{s["table"]}" '
        "GROUP BY user_id ORDER BY user_id"
    ).as_arrow()
    return {
        "schema": [[f.name, str(f.type)] for f in table.schema],
        "rows": [[r["user_id"], r["n"], r["last"].isoformat()] for r in table.to_pylist()],
    }


def probe_sqlalchemy(s: dict[str, str]) -> dict[str, Any]:
    """SQLAlchemy through PyAthena's ``awsathena+rest`` dialect: inspect() and a query."""
    from urllib.parse import quote_plus

    from sqlalchemy import create_engine, inspect, text

    url = (
        f"awsathena+rest://@athena.{s['region']}.amazonaws.com:443/{s['database']}"
        f"?s3_staging_dir={quote_plus(s['output'])}&endpoint_url={quote_plus(s['endpoint_url'])}"
    )
    engine = create_engine(url)
    inspector = inspect(engine)
    columns = inspector.get_columns(s["table"], schema=s["database"])
    with engine.connect() as connection:
        count = connection.execute(
            text(f'SELECT COUNT(*) FROM "{s["table"]}" WHERE user_id = :user'), {"user": "3"}
        ).scalar_one()
    return {
        "schemas_include_database": s["database"] in inspector.get_schema_names(),
        "tables": sorted(inspector.get_table_names(schema=s["database"])),
        "columns": [[c["name"], type(c["type"]).__name__] for c in columns],
        "count_user_3": int(count),
    }


def _wrangler(s: dict[str, str]) -> Any:
    import awswrangler as wr

    for service in ("athena", "s3", "glue", "sts"):
        setattr(wr.config, f"{service}_endpoint_url", s["endpoint_url"])
    return wr


def probe_wrangler_table(s: dict[str, str]) -> dict[str, Any]:
    """awswrangler.athena.read_sql_table without the CTAS path (plain query results)."""
    wr = _wrangler(s)
    frame = wr.athena.read_sql_table(
        table=s["table"], database=s["database"], ctas_approach=False, s3_output=s["output"]
    )
    return {
        "columns": list(frame.columns),
        "dtypes": {name: str(dtype) for name, dtype in frame.dtypes.items()},
        "rows": len(frame),
        "per_user": {str(k): int(v) for k, v in frame.groupby("user_id").size().items()},
    }


def probe_wrangler_catalog(s: dict[str, str]) -> dict[str, Any]:
    """awswrangler.catalog: databases, tables, column types."""
    wr = _wrangler(s)
    databases = wr.catalog.databases(limit=1000)
    tables = wr.catalog.tables(database=s["database"])
    return {
        "database_listed": s["database"] in set(databases["Database"]),
        "tables": sorted(tables["Table"]),
        "table_types": wr.catalog.get_table_types(database=s["database"], table=s["table"]),
        "partitions": sorted(
            wr.catalog.get_partitions(database=s["database"], table=s["table"]).values(),
        ),
    }


def _wrangler_query(s: dict[str, str], output: str, **kwargs: Any) -> dict[str, Any]:
    wr = _wrangler(s)
    frame = wr.athena.read_sql_query(
        f'SELECT user_id, COUNT(*) AS n FROM "{s["table"]}" GROUP BY user_id',
        database=s["database"],
        s3_output=output,
        **kwargs,
    )
    return {
        "columns": list(frame.columns),
        "per_user": {str(r["user_id"]): int(r["n"]) for r in frame.to_dict("records")},
    }


def probe_wrangler_ctas(s: dict[str, str]) -> dict[str, Any]:
    """awswrangler.athena.read_sql_query with its defaults: the CTAS path."""
    return _wrangler_query(s, s["output"])


def probe_wrangler_unload(s: dict[str, str]) -> dict[str, Any]:
    """awswrangler.athena.read_sql_query through UNLOAD."""
    # UNLOAD writes to s3_output itself, which must be empty, as on Athena
    # (HIVE_PATH_ALREADY_EXISTS otherwise; awswrangler's read_sql_query documents it).
    empty = f"{s['output']}unload-{uuid.uuid4().hex[:8]}/"
    return _wrangler_query(s, empty, ctas_approach=False, unload_approach=True)


PROBES: dict[str, Callable[[dict[str, str]], dict[str, Any]]] = {
    "boto3": probe_boto3,
    "pyathena-cursor": probe_pyathena_cursor,
    "pandas-cursor": probe_pandas_cursor,
    "arrow-cursor": probe_arrow_cursor,
    "sqlalchemy": probe_sqlalchemy,
    "wrangler-table": probe_wrangler_table,
    "wrangler-catalog": probe_wrangler_catalog,
    "wrangler-ctas": probe_wrangler_ctas,
    "wrangler-unload": probe_wrangler_unload,
}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in PROBES:
        print(f"usage: {argv[0]} {{{','.join(PROBES)}}}", file=sys.stderr)
        return 2
    print(json.dumps(PROBES[argv[1]](_settings()), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
