"""AWS::SecretsManager::Secret updates, which LocalStack's own resource provider lacks.

Its ``update`` raises ``NotImplementedError`` and the stack update still ends
``UPDATE_COMPLETE``: a changed ``SecretString`` or ``Description`` never reaches the secret.
On AWS both are updated in place ("Update requires: No interruption"). The local stage relies
on it: ``MHEALTH_KAGGLE_CREDENTIALS`` switches its Kaggle secret between an API token and the
legacy pair on the next deploy. Installed once when LocalStack starts
(``localstack.hooks.on_infra_start``, entry point in pyproject.toml).
"""

from __future__ import annotations

import logging
from typing import Any

from localstack.runtime import hooks
from localstack.services.cloudformation.resource_provider import (
    OperationStatus,
    ProgressEvent,
    ResourceRequest,
)

LOG = logging.getLogger(__name__)

#: Template properties UpdateSecret sets in place.
_IN_PLACE = {"Description": "Description", "SecretString": "SecretString", "KmsKeyId": "KmsKeyId"}


def update_secret(self: Any, request: ResourceRequest[Any]) -> ProgressEvent[Any]:
    """UpdateSecret with the properties whose template value changed (Name is create-only)."""
    desired: dict[str, Any] = dict(request.desired_state)
    previous: dict[str, Any] = dict(request.previous_state or {})
    secret_id = previous.get("Id") or desired.get("Id") or desired.get("Name")
    params: dict[str, Any] = {"SecretId": secret_id}
    for prop, member in _IN_PLACE.items():
        if prop in desired and desired[prop] != previous.get(prop):
            params[member] = desired[prop]
    if len(params) > 1:
        request.aws_client_factory.secretsmanager.update_secret(**params)
    model = {**previous, **desired, "Id": secret_id}
    return ProgressEvent(
        status=OperationStatus.SUCCESS, resource_model=model, custom_context=request.custom_context
    )


@hooks.on_infra_start()  # type: ignore[untyped-decorator]  # LocalStack leaves it untyped
def mhealth_secret_updates() -> None:
    """Gives LocalStack's AWS::SecretsManager::Secret provider an update."""
    from localstack.services.secretsmanager.resource_providers.aws_secretsmanager_secret import (
        SecretsManagerSecretProvider,
    )

    SecretsManagerSecretProvider.update = update_secret  # type: ignore[method-assign]
    LOG.debug("AWS::SecretsManager::Secret updates SecretString and Description in place")
