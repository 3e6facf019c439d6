"""CloudFormation type AWS::Athena::WorkGroup, deployed through the Athena API (our provider).

LocalStack's open-source CloudFormation has no Athena types. Ref is the work group's name, as
on AWS. An update sends the template's whole ``WorkGroupConfiguration`` as
``ConfigurationUpdates`` (members the template no longer sets are removed), and the name is
create-only: a new name is a new work group (CloudFormation replaces the resource).
"""

from __future__ import annotations

from typing import Any, ClassVar

from botocore.exceptions import ClientError
from localstack.services.cloudformation.resource_provider import (
    CloudFormationResourceProviderPlugin,
    OperationStatus,
    ProgressEvent,
    ResourceProvider,
    ResourceRequest,
)

from mhealth_localstack.cloudformation.glue import coerce_to_shape

Properties = dict[str, Any]

#: WorkGroupConfiguration members that UpdateWorkGroup removes with a Remove<member> flag.
_REMOVABLE = ("BytesScannedCutoffPerQuery",)
_REMOVABLE_RESULT = (
    "OutputLocation",
    "EncryptionConfiguration",
    "ExpectedBucketOwner",
    "AclConfiguration",
)


def _send(athena: Any, operation: str, method: str, params: Properties) -> Any:
    shape = athena.meta.service_model.operation_model(operation).input_shape
    return getattr(athena, method)(**coerce_to_shape(params, shape))


def _is_not_found(error: ClientError) -> bool:
    message = str(error.response.get("Error", {}).get("Message", ""))
    return "is not found" in message or "not found" in message.lower()


def _tags(model: Properties) -> list[dict[str, str]]:
    return [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in model.get("Tags") or []]


def configuration_updates(configuration: Properties) -> Properties:
    """``WorkGroupConfiguration`` as ``ConfigurationUpdates``: every member set, the removable
    members the configuration lacks removed."""
    updates = {k: v for k, v in configuration.items() if k != "ResultConfiguration"}
    for member in _REMOVABLE:
        if member not in configuration:
            updates[f"Remove{member}"] = True
    result = dict(configuration.get("ResultConfiguration") or {})
    result_updates: Properties = dict(result)
    for member in _REMOVABLE_RESULT:
        if member not in result:
            result_updates[f"Remove{member}"] = True
    updates["ResultConfigurationUpdates"] = result_updates
    return updates


class AthenaWorkGroupProvider(ResourceProvider[Properties]):
    """AWS::Athena::WorkGroup; Ref is the name."""

    TYPE = "AWS::Athena::WorkGroup"
    SCHEMA: dict[str, Any] = {  # noqa: RUF012 - typed as ResourceProvider declares it
        "typeName": TYPE,
        "properties": {
            "Name": {"type": "string"},
            "Description": {"type": "string"},
            "State": {"type": "string"},
            "RecursiveDeleteOption": {"type": "boolean"},
            "WorkGroupConfiguration": {"type": "object"},
            "Tags": {"type": "array"},
        },
        "required": ["Name"],
        "createOnlyProperties": ["/properties/Name"],
        "primaryIdentifier": ["/properties/Name"],
    }

    def create(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        model = request.desired_state
        athena = request.aws_client_factory.athena
        params: Properties = {
            "Name": model["Name"],
            "Configuration": model.get("WorkGroupConfiguration") or {},
            "Description": model.get("Description") or "",
        }
        if model.get("Tags"):
            params["Tags"] = _tags(model)
        _send(athena, "CreateWorkGroup", "create_work_group", params)
        if model.get("State") == "DISABLED":
            _send(
                athena,
                "UpdateWorkGroup",
                "update_work_group",
                {"WorkGroup": model["Name"], "State": "DISABLED"},
            )
        return self._success(request, model)

    def read(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        model = request.desired_state
        try:
            _send(
                request.aws_client_factory.athena,
                "GetWorkGroup",
                "get_work_group",
                {"WorkGroup": model["Name"]},
            )
        except ClientError as error:
            if _is_not_found(error):
                return ProgressEvent(
                    status=OperationStatus.FAILED,
                    message=f"Resource of type '{self.TYPE}' with identifier "
                    f"'{model['Name']}' was not found.",
                    error_code="NotFound",
                )
            raise
        return self._success(request, model)

    def update(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        model = request.desired_state
        _send(
            request.aws_client_factory.athena,
            "UpdateWorkGroup",
            "update_work_group",
            {
                "WorkGroup": model["Name"],
                "Description": model.get("Description") or "",
                "State": model.get("State") or "ENABLED",
                "ConfigurationUpdates": configuration_updates(
                    model.get("WorkGroupConfiguration") or {}
                ),
            },
        )
        return self._success(request, model)

    def delete(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        model = request.desired_state
        try:
            _send(
                request.aws_client_factory.athena,
                "DeleteWorkGroup",
                "delete_work_group",
                {
                    "WorkGroup": model["Name"],
                    "RecursiveDeleteOption": bool(model.get("RecursiveDeleteOption")),
                },
            )
        except ClientError as error:
            if not _is_not_found(error):
                raise
        return self._success(request, model)

    @staticmethod
    def _success(
        request: ResourceRequest[Properties], model: Properties
    ) -> ProgressEvent[Properties]:
        return ProgressEvent(
            status=OperationStatus.SUCCESS,
            resource_model=model,
            custom_context=request.custom_context,
        )


class AthenaWorkGroupProviderPlugin(CloudFormationResourceProviderPlugin):
    name = AthenaWorkGroupProvider.TYPE
    provider: ClassVar[type[ResourceProvider[Properties]]] = AthenaWorkGroupProvider

    def __init__(self) -> None:
        self.factory: type[ResourceProvider[Properties]] | None = None

    def load(self) -> None:
        self.factory = self.provider
