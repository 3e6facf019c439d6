"""Catalog reads of the query engine from the Glue Data Catalog in this process.

The local Glue Data Catalog is moto's, inside LocalStack. A query reads its tables with
``GetTable`` and ``GetPartitions``; through a boto3 client each is a whole API round trip
(client-side hooks, endpoint rules, the gateway's handler chain, serialising and parsing), tens
of milliseconds on a busy machine, for two dictionary lookups. ``InProcessGlue`` answers those
reads from moto's Glue backend directly, in the API's shapes and with the API's error codes,
and hands everything else (every change to the catalog, paged or filtered reads) to the client
it wraps, so writes keep the API's validation.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


class InProcessGlue:
    """A Glue client whose ``GetTable``, ``GetPartitions`` and ``GetDatabase`` read moto's
    backend of ``account_id``/``region`` directly; other calls go to ``client``."""

    def __init__(self, client: Any, account_id: str, region: str) -> None:
        self._client = client
        self._account_id = account_id
        self._region = region

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def _backend(self) -> Any:
        from moto.glue.models import glue_backends

        return glue_backends[self._account_id][self._region]

    @staticmethod
    def _error(error: Exception, operation: str) -> ClientError:
        code = str(getattr(error, "error_type", "InternalServiceException"))
        message = str(getattr(error, "message", error))
        return ClientError({"Error": {"Code": code, "Message": message}}, operation)

    def get_database(self, **kwargs: Any) -> Any:
        if set(kwargs) != {"Name"}:
            return self._client.get_database(**kwargs)
        from moto.glue.exceptions import GlueClientError

        try:
            database = self._backend().get_database(kwargs["Name"])
        except GlueClientError as error:
            raise self._error(error, "GetDatabase") from error
        return {"Database": database.as_dict()}

    def get_table(self, **kwargs: Any) -> Any:
        if set(kwargs) != {"DatabaseName", "Name"}:
            return self._client.get_table(**kwargs)
        from moto.glue.exceptions import GlueClientError

        try:
            table = self._backend().get_table(kwargs["DatabaseName"], kwargs["Name"])
        except GlueClientError as error:
            raise self._error(error, "GetTable") from error
        return {"Table": table.as_dict()}

    def get_partitions(self, **kwargs: Any) -> Any:
        if set(kwargs) != {"DatabaseName", "TableName"}:
            return self._client.get_partitions(**kwargs)
        from moto.glue.exceptions import GlueClientError

        try:
            partitions = self._backend().get_partitions(
                kwargs["DatabaseName"], kwargs["TableName"], None
            )
        except GlueClientError as error:
            raise self._error(error, "GetPartitions") from error
        return {"Partitions": [partition.as_dict() for partition in partitions]}
