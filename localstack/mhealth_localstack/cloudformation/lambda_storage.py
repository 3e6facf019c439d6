"""``AWS::Lambda::Function``'s ``EphemeralStorage``, which LocalStack's CloudFormation drops.

LocalStack 2026.3.0's resource provider for ``AWS::Lambda::Function`` builds its
``CreateFunction`` and ``UpdateFunctionConfiguration`` calls from a fixed list of template
properties that lacks ``EphemeralStorage``; a function deployed from a template then gets the
default 512 MB ``/tmp`` whatever the template says (``serverless.yml``'s
``ephemeralStorageSize``), and the host executor, which enforces ``/tmp``, fails a download that
fits the configured size ("No space left on device"). On AWS the property sets the function's
``/tmp`` size, 512 to 10,240 MB
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-lambda-function.html).

This start-up hook wraps the provider's ``create`` and ``update`` so the two calls carry the
template's ``EphemeralStorage``; everything else the provider does stays as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from localstack.runtime import hooks


class _LambdaClientWithStorage:
    """A Lambda client whose function create/update calls carry ``EphemeralStorage``."""

    def __init__(self, client: Any, storage: dict[str, int]) -> None:
        self._client = client
        self._storage = storage

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def create_function(self, **kwargs: Any) -> Any:
        kwargs.setdefault("EphemeralStorage", self._storage)
        return self._client.create_function(**kwargs)

    def update_function_configuration(self, **kwargs: Any) -> Any:
        kwargs.setdefault("EphemeralStorage", self._storage)
        return self._client.update_function_configuration(**kwargs)


class _ClientsWithStorage:
    """The resource request's client factory, its ``lambda_`` client wrapped."""

    def __init__(self, factory: Any, storage: dict[str, int]) -> None:
        self._factory = factory
        self._storage = storage

    def __getattr__(self, name: str) -> Any:
        return getattr(self._factory, name)

    @property
    def lambda_(self) -> _LambdaClientWithStorage:
        return _LambdaClientWithStorage(self._factory.lambda_, self._storage)


def template_storage(properties: dict[str, Any] | None) -> dict[str, int] | None:
    """``{"Size": N}`` from the resource's properties, or None when the template sets none."""
    size = ((properties or {}).get("EphemeralStorage") or {}).get("Size")
    return {"Size": int(size)} if size else None


def _with_storage(original: Callable[..., Any], provider: Any, request: Any) -> Any:
    storage = template_storage(request.desired_state)
    if storage is not None and not isinstance(request.aws_client_factory, _ClientsWithStorage):
        request.aws_client_factory = _ClientsWithStorage(request.aws_client_factory, storage)
    return original(provider, request)


@hooks.on_infra_start()  # type: ignore[untyped-decorator]  # LocalStack's is untyped
def pass_lambda_ephemeral_storage() -> None:
    """LocalStack start-up hook: templates' ``EphemeralStorage`` reaches the Lambda API."""
    from localstack.services.lambda_.resource_providers.aws_lambda_function import (
        LambdaFunctionProvider,
    )
    from localstack.utils.patch import Patch

    for method in (LambdaFunctionProvider.create, LambdaFunctionProvider.update):
        Patch.function(method, _with_storage).apply()
