"""How our services reach LocalStack's own gateway from this host, and as which account."""

from __future__ import annotations

import threading
from typing import Any

from localstack import config
from mhealth_localstack.credentials import (
    LOCAL_SECRET_ACCESS_KEY,
    access_key_for,
    local_credentials,
)


def edge_hostname() -> str:
    """The gateway's address as a process on this host reaches it (a wildcard bind on
    loopback), without brackets or port."""
    host = config.GATEWAY_LISTEN[0].host.strip("[]")
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)


def edge_host() -> str:
    """The gateway as ``host:port`` (an IPv6 address in brackets)."""
    host = edge_hostname()
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{config.GATEWAY_LISTEN[0].port}"


def edge_url() -> str:
    """The gateway as an ``http://`` URL (boto3's ``endpoint_url``, ``AWS_ENDPOINT_URL``)."""
    return f"http://{edge_host()}"


_IN_MEMORY_CLIENTS: dict[tuple[str, str, str], Any] = {}
_IN_MEMORY_LOCK = threading.Lock()


def in_memory_client(service: str, account_id: str, region: str) -> Any:
    """A boto3 client, as ``account_id``, whose requests go straight into this process's
    gateway (LocalStack's own in-memory short circuit): the whole request chain, no socket.

    Falls back to an ordinary internal client when the runtime's gateway is not reachable.
    The clients come from a factory of their own, so LocalStack's shared clients stay as they
    are.
    """
    key = (service, account_id, region)
    with _IN_MEMORY_LOCK:
        client = _IN_MEMORY_CLIENTS.get(key)
        if client is not None:
            return client
        from localstack.aws.connect import InternalClientFactory, connect_to

        access_key = access_key_for(account_id)
        try:
            from localstack.aws.client import (
                GatewayShortCircuit,
                botocore_in_memory_endpoint_patch,
            )
            from localstack.runtime import get_current_runtime

            gateway = get_current_runtime().components.gateway
            # What LocalStack applies with IN_MEMORY_CLIENT=1: botocore's prepared requests
            # keep their parameters and operation (it only adds attributes), which the short
            # circuit hands to the gateway.
            botocore_in_memory_endpoint_patch.apply()
            client = InternalClientFactory().get_client(
                service,
                region_name=region,
                aws_access_key_id=access_key,
                aws_secret_access_key=LOCAL_SECRET_ACCESS_KEY,
            )
            GatewayShortCircuit.modify_client(client, gateway)  # type: ignore[no-untyped-call]
        except Exception:  # no runtime (a unit test): the gateway over HTTP
            return connect_to(region_name=region, **local_credentials(account_id)).get_client(
                service
            )
        _IN_MEMORY_CLIENTS[key] = client
        return client
