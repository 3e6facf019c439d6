"""CloudFormation types AWS::Glue::Database, ::Table and ::Job, deployed through the Glue API."""

from __future__ import annotations

import logging
from typing import Any, ClassVar, NamedTuple

from botocore import xform_name
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


def _send(glue: Any, operation: str, params: Properties) -> Any:
    """Call a Glue operation by its API name (``CreateTable``) with template-shaped parameters.

    Every request goes through ``coerce_to_shape`` against the operation's whole input shape, so
    the providers build plain dicts and never repeat the coercion or the member lookups.
    """
    return getattr(glue, xform_name(operation))(
        **coerce_to_shape(params, _input_shape(glue, operation))
    )


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


class GlueRequest(NamedTuple):
    """A create or update request for Glue, and the resource's name (its Ref) once it succeeds."""

    params: Properties
    name: str


# -- the shared create/read/update/delete shape -----------------------------------------------


class GlueResourceProvider(ResourceProvider[Properties]):
    """Create/read/update/delete through four Glue operations; subclasses say how to build them.

    The three Glue types differ only in operation names, the property that carries the name
    (``IDENTIFIER``, which is also the Ref and the not-found message's identifier), how a
    resource is located, and how a template turns into a create or update request. Everything
    else (coercion, not-found handling, a delete that tolerates a resource already gone) lives
    here once.
    """

    TYPE: ClassVar[str]
    IDENTIFIER: ClassVar[str]
    # Glue API operation names, as in the service model (``CreateTable``).
    CREATE: ClassVar[str]
    GET: ClassVar[str]
    UPDATE: ClassVar[str]
    DELETE: ClassVar[str]

    def locate(self, model: Properties) -> Properties:
        """The GET and DELETE parameters that name this resource in Glue."""
        raise NotImplementedError

    def create_request(self, request: ResourceRequest[Properties]) -> GlueRequest:
        raise NotImplementedError

    def update_request(self, request: ResourceRequest[Properties]) -> GlueRequest:
        raise NotImplementedError

    def create(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        return self._apply(request, self.CREATE, self.create_request(request))

    def read(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        model = request.desired_state
        try:
            _send(request.aws_client_factory.glue, self.GET, self.locate(model))
        except ClientError as error:
            if _is_not_found(error):
                return _not_found(self.TYPE, model[self.IDENTIFIER])
            raise
        return _success(request, model)

    def update(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        return self._apply(request, self.UPDATE, self.update_request(request))

    def delete(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        model = request.desired_state
        try:
            _send(request.aws_client_factory.glue, self.DELETE, self.locate(model))
        except ClientError as error:
            # Already gone (deleted by hand, or a failed create) is what delete wants anyway.
            if not _is_not_found(error):
                raise
        return _success(request, model)

    def _apply(
        self, request: ResourceRequest[Properties], operation: str, glue_request: GlueRequest
    ) -> ProgressEvent[Properties]:
        _send(request.aws_client_factory.glue, operation, glue_request.params)
        model = request.desired_state
        model[self.IDENTIFIER] = glue_request.name
        return _success(request, model)


# -- AWS::Glue::Database ----------------------------------------------------------------------


class GlueDatabaseProvider(GlueResourceProvider):
    """AWS::Glue::Database; Ref is the database name."""

    TYPE = "AWS::Glue::Database"
    IDENTIFIER = "DatabaseName"
    CREATE = "CreateDatabase"
    GET = "GetDatabase"
    UPDATE = "UpdateDatabase"
    DELETE = "DeleteDatabase"
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

    def locate(self, model: Properties) -> Properties:
        return {**_catalog_id(model), "Name": model["DatabaseName"]}

    def create_request(self, request: ResourceRequest[Properties]) -> GlueRequest:
        model = request.desired_state
        database_input = dict(model.get("DatabaseInput") or {})
        database_input["Name"] = (
            database_input.get("Name")
            or model.get("DatabaseName")
            or util.generate_default_name(request.stack_name, request.logical_resource_id)
        )
        return GlueRequest(
            {**_catalog_id(model), "DatabaseInput": database_input}, database_input["Name"]
        )

    def update_request(self, request: ResourceRequest[Properties]) -> GlueRequest:
        model = request.desired_state
        name = (request.previous_state or {}).get("DatabaseName") or model.get("DatabaseName")
        database_input = dict(model.get("DatabaseInput") or {})
        database_input.setdefault("Name", name)
        # Name is the database being updated; DatabaseInput.Name may rename it.
        return GlueRequest(
            {**_catalog_id(model), "Name": name, "DatabaseInput": database_input},
            database_input["Name"],
        )


# -- AWS::Glue::Table -------------------------------------------------------------------------


class GlueTableProvider(GlueResourceProvider):
    """AWS::Glue::Table; Ref is the table name (also its read-only Id)."""

    TYPE = "AWS::Glue::Table"
    IDENTIFIER = "Id"
    CREATE = "CreateTable"
    GET = "GetTable"
    UPDATE = "UpdateTable"
    DELETE = "DeleteTable"
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

    def locate(self, model: Properties) -> Properties:
        return {**_catalog_id(model), "DatabaseName": model["DatabaseName"], "Name": model["Id"]}

    def create_request(self, request: ResourceRequest[Properties]) -> GlueRequest:
        model = request.desired_state
        table_input = dict(model.get("TableInput") or {})
        table_input.setdefault(
            "Name",
            util.generate_default_name(request.stack_name, request.logical_resource_id).lower(),
        )
        return self._table_request(model, table_input)

    def update_request(self, request: ResourceRequest[Properties]) -> GlueRequest:
        model = request.desired_state
        table_input = dict(model.get("TableInput") or {})
        # A template without TableInput.Name keeps the table's current name.
        table_input.setdefault("Name", (request.previous_state or {}).get("Id"))
        return self._table_request(model, table_input)

    def update(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        """Update in place, or move: UpdateTable cannot rename a table or change its database."""
        model = request.desired_state
        previous = request.previous_state or {}
        glue_request = self.update_request(request)
        moved = (glue_request.name, model.get("DatabaseName"), model.get("CatalogId")) != (
            previous.get("Id"),
            previous.get("DatabaseName"),
            previous.get("CatalogId"),
        )
        if not (moved and previous.get("Id")):
            return self._apply(request, self.UPDATE, glue_request)
        # A new name or database is a new table: create it, then drop the old one.
        model["TableInput"] = glue_request.params["TableInput"]
        created = self.create(request)
        _send(request.aws_client_factory.glue, self.DELETE, self.locate(previous))
        return created

    @staticmethod
    def _table_request(model: Properties, table_input: Properties) -> GlueRequest:
        return GlueRequest(
            {
                **_catalog_id(model),
                "DatabaseName": model["DatabaseName"],
                "TableInput": table_input,
            },
            table_input["Name"],
        )


# -- AWS::Glue::Job ---------------------------------------------------------------------------


class GlueJobProvider(GlueResourceProvider):
    """AWS::Glue::Job; Ref is the job name.

    The template's properties are CreateJob's own parameters, so the model is sent whole; an
    update sends all but Name and Tags, which UpdateJob's JobUpdate does not take.
    """

    TYPE = "AWS::Glue::Job"
    IDENTIFIER = "Name"
    CREATE = "CreateJob"
    GET = "GetJob"
    UPDATE = "UpdateJob"
    DELETE = "DeleteJob"
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

    def locate(self, model: Properties) -> Properties:
        return {"JobName": model["Name"]}

    def create_request(self, request: ResourceRequest[Properties]) -> GlueRequest:
        model = request.desired_state
        name = model.get("Name") or util.generate_default_name(
            request.stack_name, request.logical_resource_id
        )
        return GlueRequest({**model, "Name": name}, name)

    def update_request(self, request: ResourceRequest[Properties]) -> GlueRequest:
        model = request.desired_state
        name = model.get("Name") or (request.previous_state or {}).get("Name")
        if not name:
            raise ValueError("AWS::Glue::Job update without a Name in the new or previous state")
        job_update = {key: value for key, value in model.items() if key not in {"Name", "Tags"}}
        return GlueRequest({"JobName": name, "JobUpdate": job_update}, str(name))


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
