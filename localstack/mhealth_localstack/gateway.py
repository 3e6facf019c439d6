"""How our services reach LocalStack's own gateway from this host, and as which account."""

from __future__ import annotations

from localstack import config


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
