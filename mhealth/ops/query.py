"""Running SQL through Athena's API and rendering the result as a table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from mypy_boto3_athena import AthenaClient

SEED_QUERY: Final = 'SELECT * FROM "mhealth_db"."mhealth" WHERE user_id = \'1\' LIMIT 10'


def seed_query(database: str, table: str) -> str:
    """The README's example query on a stage's own database (``SEED_QUERY`` on the local one)."""
    return f'SELECT * FROM "{database}"."{table}" WHERE user_id = \'1\' LIMIT 10'


class QueryFailedError(RuntimeError):
    """Athena ended the query FAILED or CANCELLED; the message is its StateChangeReason."""


@dataclass(frozen=True)
class QueryResult:
    query_execution_id: str
    columns: list[tuple[str, str]]  # (name, Athena type)
    rows: list[list[str | None]]
    output_location: str


def run_query(
    athena: AthenaClient,
    sql: str,
    *,
    database: str,
    work_group: str | None = None,
    output_location: str | None = None,
    timeout_seconds: float = 300,
) -> QueryResult:
    """Starts ``sql``, waits for it with a deadline and fetches every page of its result.

    In a stage's work group the result location is the work group's (it enforces it);
    ``output_location`` is for work groups without one.
    """
    request: Any = {"QueryString": sql, "QueryExecutionContext": {"Database": database}}
    if work_group is not None:
        request["WorkGroup"] = work_group
    if output_location is not None:
        request["ResultConfiguration"] = {"OutputLocation": output_location}
    query_id = athena.start_query_execution(**request)["QueryExecutionId"]
    deadline = time.monotonic() + timeout_seconds
    delay = 0.1
    while True:
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        status = execution["Status"]
        state = status["State"]
        if state == "SUCCEEDED":
            break
        if state in ("FAILED", "CANCELLED"):
            reason = status.get("StateChangeReason", "no reason given")
            raise QueryFailedError(f"query {state}: {reason}")
        if time.monotonic() > deadline:
            athena.stop_query_execution(QueryExecutionId=query_id)
            raise TimeoutError(f"query {query_id} still {state} after {timeout_seconds} s")
        time.sleep(delay)
        delay = min(delay * 2, 2.0)

    columns: list[tuple[str, str]] = []
    rows: list[list[str | None]] = []
    first_page = True
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id):
        result_set: Any = page["ResultSet"]
        if not columns:
            columns = [
                (info["Name"], info["Type"])
                for info in result_set["ResultSetMetadata"]["ColumnInfo"]
            ]
        page_rows = [
            [datum.get("VarCharValue") for datum in row["Data"]] for row in result_set["Rows"]
        ]
        if first_page and page_rows and page_rows[0] == [name for name, _ in columns]:
            page_rows = page_rows[1:]  # Athena repeats the header as the first row of a SELECT
        first_page = False
        rows.extend(page_rows)
    location = execution.get("ResultConfiguration", {}).get("OutputLocation", "")
    return QueryResult(query_id, columns, rows, location)


def render(result: QueryResult, output_format: str = "table") -> str:
    names = [name for name, _ in result.columns]
    if output_format == "json":
        return json.dumps([dict(zip(names, row, strict=True)) for row in result.rows], indent=2)
    if output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(["" if value is None else value for value in row] for row in result.rows)
        return buffer.getvalue().rstrip("\n")
    cells = [["NULL" if value is None else value for value in row] for row in result.rows]
    widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(names)]
    numeric = [
        kind in ("bigint", "integer", "double", "decimal", "float") for _, kind in result.columns
    ]

    def line(values: list[str]) -> str:
        return " | ".join(
            value.rjust(width) if is_number else value.ljust(width)
            for value, width, is_number in zip(values, widths, numeric, strict=True)
        )

    rule = "-+-".join("-" * width for width in widths)
    body = [line(row) for row in cells]
    footer = f"({len(cells)} row{'s' if len(cells) != 1 else ''})"
    return "\n".join([line(names), rule, *body, footer])
