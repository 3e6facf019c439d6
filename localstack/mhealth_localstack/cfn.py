"""CloudFormation types AWS::Glue::Database, ::Table and ::Job, deployed through the Glue API."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from botocore.exceptions import ClientError
from botocore.model import ListShape, MapShape, Shape, StructureShape
from localstack.services.cloudformation import provider_utils as util
from localstack.services.cloudformation.resource_provider import (
    CloudFormationResourceProviderPlugin,
    OperationStatus,
    ProgressEvent,
    ResourceProvider,
    ResourceRequest,
)

LOG = logging.getLogger(__name__)

Properties = dict[str, Any]


def coerce_to_shape(value: Any, shape: Shape) -> Any:
    """Template values typed as the Glue API wants them (templates give numbers as strings)."""
    if value is None:
        return None
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        members = {name.lower(): name for name in shape.members}
        # Keys the API does not know (template-only ones) are dropped rather than sent.
        return {
            members[key.lower()]: coerce_to_shape(item, shape.members[members[key.lower()]])
            for key, item in value.items()
            if key.lower() in members
        }
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [coerce_to_shape(item, shape.member) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {str(key): coerce_to_shape(item, shape.value) for key, item in value.items()}
    return _coerce_scalar(value, shape.type_name)


def _coerce_scalar(value: Any, type_name: str) -> Any:
    if type_name == "string":
        return value if isinstance(value, str) else _string_of(value)
    if type_name in {"integer", "long"}:
        return int(value) if isinstance(value, bool) else int(float(value))
    if type_name in {"double", "float"}:
        return float(value)
    if type_name == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    return value


def _string_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _input_shape(client: Any, operation: str) -> StructureShape:
    shape = client.meta.service_model.operation_model(operation).input_shape
    assert isinstance(shape, StructureShape)
    return shape


def _member_shape(client: Any, operation: str, member: str) -> Shape:
    return _input_shape(client, operation).members[member]


def _is_not_found(error: ClientError) -> bool:
    return bool(error.response.get("Error", {}).get("Code") == "EntityNotFoundException")


def _success(request: ResourceRequest[Properties], model: Properties) -> ProgressEvent[Properties]:
    return ProgressEvent(
        status=OperationStatus.SUCCESS, resource_model=model, custom_context=request.custom_context
    )


def _not_found(resource_type: str, identifier: str) -> ProgressEvent[Properties]:
    return ProgressEvent(
        status=OperationStatus.FAILED,
        message=f"Resource of type '{resource_type}' with identifier '{identifier}' was not found.",
        error_code="NotFound",
    )


def _catalog_id(model: Properties) -> dict[str, str]:
    catalog_id = model.get("CatalogId")
    return {"CatalogId": str(catalog_id)} if catalog_id else {}


# -- AWS::Glue::Database ----------------------------------------------------------------------


class GlueDatabaseProvider(ResourceProvider[Properties]):
    """AWS::Glue::Database; Ref is the database name."""

    TYPE = "AWS::Glue::Database"
    SCHEMA: dict[str, Any] = {  # noqa: RUF012 - typed as ResourceProvider declares it
        "typeName": TYPE,
        "properties": {
            "CatalogId": {"type": "string"},
            "DatabaseInput": {"type": "object"},
            "DatabaseName": {"type": "string"},
        },
        "required": ["CatalogId", "DatabaseInput"],
        "createOnlyProperties": ["/properties/DatabaseName"],
        "primaryIdentifier": ["/properties/DatabaseName"],
    }

    def create(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        model = request.desired_state
        glue = request.aws_client_factory.glue
        database_input = dict(model.get("DatabaseInput") or {})
        name = (
            database_input.get("Name")
            or model.get("DatabaseName")
            or util.generate_default_name(request.stack_name, request.logical_resource_id)
        )
        database_input["Name"] = name
        glue.create_database(
            **_catalog_id(model),
            DatabaseInput=coerce_to_shape(
                database_input, _member_shape(glue, "CreateDatabase", "DatabaseInput")
            ),
        )
        model["DatabaseName"] = name
        return _success(request, model)

    def read(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        model = request.desired_state
        try:
            request.aws_client_factory.glue.get_database(
                **_catalog_id(model), Name=model["DatabaseName"]
            )
        except ClientError as error:
            if _is_not_found(error):
                return _not_found(self.TYPE, model["DatabaseName"])
            raise
        return _success(request, model)

    def update(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        model = request.desired_state
        previous = request.previous_state or {}
        glue = request.aws_client_factory.glue
        name = previous.get("DatabaseName") or model.get("DatabaseName")
        database_input = dict(model.get("DatabaseInput") or {})
        database_input.setdefault("Name", name)
        glue.update_database(
            **_catalog_id(model),
            Name=name,
            DatabaseInput=coerce_to_shape(
                database_input, _member_shape(glue, "UpdateDatabase", "DatabaseInput")
            ),
        )
        model["DatabaseName"] = database_input["Name"]
        return _success(request, model)

    def delete(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        model = request.desired_state
        try:
            request.aws_client_factory.glue.delete_database(
                **_catalog_id(model), Name=model["DatabaseName"]
            )
        except ClientError as error:
            if not _is_not_found(error):
                raise
        return _success(request, model)


# -- AWS::Glue::Table -------------------------------------------------------------------------


class GlueTableProvider(ResourceProvider[Properties]):
    """AWS::Glue::Table; Ref is the table name (also its read-only Id)."""

    TYPE = "AWS::Glue::Table"
    SCHEMA: dict[str, Any] = {  # noqa: RUF012 - typed as ResourceProvider declares it
        "typeName": TYPE,
        "properties": {
            "CatalogId": {"type": "string"},
            "DatabaseName": {"type": "string"},
            "TableInput": {"type": "object"},
            "OpenTableFormatInput": {"type": "object"},
            "Id": {"type": "string"},
        },
        "required": ["CatalogId", "DatabaseName", "TableInput"],
        "readOnlyProperties": ["/properties/Id"],
        # AWS marks DatabaseName create-only, but LocalStack's engine sees a Ref to any modified
        # database as a changed value and would replace (re-create) the table; update() handles a
        # real move between databases itself.
        "primaryIdentifier": ["/properties/Id"],
    }

    def create(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        model = request.desired_state
        glue = request.aws_client_factory.glue
        table_input = dict(model.get("TableInput") or {})
        table_input.setdefault(
            "Name",
            util.generate_default_name(request.stack_name, request.logical_resource_id).lower(),
        )
        glue.create_table(
            **_catalog_id(model),
            DatabaseName=model["DatabaseName"],
            TableInput=coerce_to_shape(
                table_input, _member_shape(glue, "CreateTable", "TableInput")
            ),
        )
        model["Id"] = table_input["Name"]
        return _success(request, model)

    def read(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        model = request.desired_state
        try:
            request.aws_client_factory.glue.get_table(
                **_catalog_id(model), DatabaseName=model["DatabaseName"], Name=model["Id"]
            )
        except ClientError as error:
            if _is_not_found(error):
                return _not_found(self.TYPE, model["Id"])
            raise
        return _success(request, model)

    def update(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        model = request.desired_state
        previous = request.previous_state or {}
        glue = request.aws_client_factory.glue
        table_input = dict(model.get("TableInput") or {})
        table_input.setdefault("Name", previous.get("Id"))
        moved = (table_input["Name"], model.get("DatabaseName"), model.get("CatalogId")) != (
            previous.get("Id"),
            previous.get("DatabaseName"),
            previous.get("CatalogId"),
        )
        if moved and previous.get("Id"):
            # A new name or database is a new table: create it, then drop the old one.
            model["TableInput"] = table_input
            created = self.create(request)
            glue.delete_table(
                **_catalog_id(previous), DatabaseName=previous["DatabaseName"], Name=previous["Id"]
            )
            return created
        glue.update_table(
            **_catalog_id(model),
            DatabaseName=model["DatabaseName"],
            TableInput=coerce_to_shape(
                table_input, _member_shape(glue, "UpdateTable", "TableInput")
            ),
        )
        model["Id"] = table_input["Name"]
        return _success(request, model)

    def delete(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        model = request.desired_state
        try:
            request.aws_client_factory.glue.delete_table(
                **_catalog_id(model), DatabaseName=model["DatabaseName"], Name=model["Id"]
            )
        except ClientError as error:
            if not _is_not_found(error):
                raise
        return _success(request, model)


# -- AWS::Glue::Job ---------------------------------------------------------------------------


class GlueJobProvider(ResourceProvider[Properties]):
    """AWS::Glue::Job; Ref is the job name."""

    TYPE = "AWS::Glue::Job"
    SCHEMA: dict[str, Any] = {  # noqa: RUF012 - typed as ResourceProvider declares it
        "typeName": TYPE,
        "properties": {
            "Name": {"type": "string"},
            "Role": {"type": "string"},
            "Command": {"type": "object"},
            "DefaultArguments": {"type": "object"},
            "NonOverridableArguments": {"type": "object"},
            "ExecutionProperty": {"type": "object"},
            "Tags": {"type": "object"},
        },
        "required": ["Role", "Command"],
        "createOnlyProperties": ["/properties/Name"],
        "primaryIdentifier": ["/properties/Name"],
    }

    def create(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        model = request.desired_state
        glue = request.aws_client_factory.glue
        if not model.get("Name"):
            model["Name"] = util.generate_default_name(
                request.stack_name, request.logical_resource_id
            )
        params = coerce_to_shape(model, _input_shape(glue, "CreateJob"))
        glue.create_job(**params)
        return _success(request, model)

    def read(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        model = request.desired_state
        try:
            request.aws_client_factory.glue.get_job(JobName=model["Name"])
        except ClientError as error:
            if _is_not_found(error):
                return _not_found(self.TYPE, model["Name"])
            raise
        return _success(request, model)

    def update(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        model = request.desired_state
        previous = request.previous_state or {}
        glue = request.aws_client_factory.glue
        model["Name"] = model.get("Name") or previous.get("Name")
        job_update = {key: value for key, value in model.items() if key not in {"Name", "Tags"}}
        glue.update_job(
            JobName=model["Name"],
            JobUpdate=coerce_to_shape(job_update, _member_shape(glue, "UpdateJob", "JobUpdate")),
        )
        return _success(request, model)

    def delete(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        model = request.desired_state
        try:
            request.aws_client_factory.glue.delete_job(JobName=model["Name"])
        except ClientError as error:
            if not _is_not_found(error):
                raise
        return _success(request, model)


# -- plugins (entry points in pyproject.toml) ----------------------------------------------------


class _GluePlugin(CloudFormationResourceProviderPlugin):
    provider: ClassVar[type[ResourceProvider[Properties]]]

    def __init__(self) -> None:
        self.factory: type[ResourceProvider[Properties]] | None = None

    def load(self) -> None:
        self.factory = self.provider


class GlueDatabaseProviderPlugin(_GluePlugin):
    name = GlueDatabaseProvider.TYPE
    provider = GlueDatabaseProvider


class GlueTableProviderPlugin(_GluePlugin):
    name = GlueTableProvider.TYPE
    provider = GlueTableProvider


class GlueJobProviderPlugin(_GluePlugin):
    name = GlueJobProvider.TYPE
    provider = GlueJobProvider
