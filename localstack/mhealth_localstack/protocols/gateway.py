"""Routes each request to the model of its wire protocol, and moto calls back to the old one.

Installed once when LocalStack starts (``localstack.hooks.on_infra_start``), before the
first request is routed:

- LocalStack's handler chain asks ``determine_aws_service_model`` which model a request is
  for; for a service with several protocol views the answer becomes the view of the
  protocol the request is written in (``match_available_protocols``: an
  ``application/x-amz-json`` body with ``X-Amz-Target`` is ``json``, a plain HTTP call on
  the operation's path is ``rest-json``). Parser, provider dispatch and serializer all
  follow that model, so each client gets the response shape it parses.
- moto only understands the protocol it was written for. Operations a provider hands to
  moto are re-encoded in the bundled protocol first (``call_moto_in_bundled_protocol``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from botocore.model import ServiceModel
from localstack.aws.api import (
    CommonServiceException,
    RequestContext,
    ServiceRequest,
    ServiceResponse,
)
from localstack.aws.forwarder import ForwardingFallbackDispatcher, create_aws_request_context
from localstack.aws.protocol.service_router import match_available_protocols
from localstack.aws.skeleton import DispatchTable
from localstack.aws.spec import load_service
from localstack.runtime import hooks
from werkzeug.datastructures import Headers

from mhealth_localstack.protocols.models import (
    ProtocolViews,
    model_protocols,
    protocol_views,
    shipped_models,
)

LOG = logging.getLogger(__name__)

_VIEWS: dict[str, ProtocolViews] = {}


def views_for(service: str) -> ProtocolViews | None:
    """The protocol views registered for ``service`` (None: only its bundled model)."""
    return _VIEWS.get(service)


def register_shipped_models() -> dict[str, ProtocolViews]:
    """Build the views of every shipped model that adds a protocol to LocalStack's own."""
    for service, description in shipped_models().items():
        views = protocol_views(service, load_service(service), description)
        if views is None:
            LOG.info("newer %s model adds no wire protocol; LocalStack's own serves it", service)
            continue
        _VIEWS[service] = views
        LOG.info(
            "%s: serving %s from the newer model next to %s",
            service,
            ", ".join(views.added_protocols),
            views.bundled_protocol,
        )
    return dict(_VIEWS)


def model_for_request(request: Any, model: ServiceModel) -> ServiceModel:
    """The view of ``model``'s service for the protocol ``request`` is written in."""
    views = _VIEWS.get(model.service_name)
    if views is None:
        return model
    protocol = match_available_protocols(request, list(views.protocols))  # type: ignore[arg-type]
    return views.by_protocol.get(protocol, model) if protocol else model


def _route_by_protocol(
    determine: Callable[..., ServiceModel | None],
) -> Callable[..., ServiceModel | None]:
    def determine_aws_service_model(request: Any, services: Any = None) -> ServiceModel | None:
        model = determine(request, services)
        return None if model is None else model_for_request(request, model)

    determine_aws_service_model.__wrapped__ = determine  # type: ignore[attr-defined]
    return determine_aws_service_model


# The function LocalStack's ServiceNameParser calls to pick a request's service model.
_ROUTER_FUNCTION = "determine_aws_service_model"


def install_routing() -> None:
    """Make LocalStack's service-name handler pick the request's protocol view (idempotent)."""
    from localstack.aws.handlers import service

    current = getattr(service, _ROUTER_FUNCTION)
    if getattr(current, "__wrapped__", None) is None:
        setattr(service, _ROUTER_FUNCTION, _route_by_protocol(current))


def in_bundled_protocol(context: RequestContext) -> RequestContext:
    """``context`` itself, or the same call re-encoded in the bundled model's protocol."""
    views = _VIEWS.get(context.service.service_name) if context.service else None
    if views is None or context.operation is None:
        return context
    if context.protocol in model_protocols(views.bundled):
        return context
    operation = context.operation.name
    if operation not in views.bundled.operation_names:
        raise CommonServiceException(
            "UnsupportedOperation",
            f"{operation} is not supported by the local {views.service}",
            status_code=501,
        )
    local = create_aws_request_context(
        service_name=views.service,
        action=operation,
        protocol=views.bundled_protocol,  # type: ignore[arg-type]
        parameters=context.service_request or {},
        region=context.region,
    )
    # Keep who is calling (Authorization: the account) but not how the body was encoded.
    headers = Headers(context.request.headers)
    for name in ("Content-Type", "Content-Length", "Content-Encoding"):
        headers.pop(name, None)
    local.request.headers.update(headers)
    local.account_id = context.account_id
    local.request_id = context.request_id
    return local


def call_moto_in_bundled_protocol(
    context: RequestContext, request: ServiceRequest | None = None
) -> ServiceResponse:
    """moto's answer to the request, whatever protocol it came in."""
    from localstack.services.moto import call_moto

    return call_moto(in_bundled_protocol(context))


def MultiProtocolMotoFallbackDispatcher(provider: object) -> DispatchTable:  # noqa: N802
    """LocalStack's ``MotoFallbackDispatcher`` for a service spoken in several protocols."""
    return ForwardingFallbackDispatcher(provider, call_moto_in_bundled_protocol)


@hooks.on_infra_start(priority=100)  # type: ignore[untyped-decorator]  # LocalStack's is untyped
def serve_newer_protocols() -> None:
    """LocalStack start-up hook: register the shipped models and route by protocol."""
    register_shipped_models()
    install_routing()
