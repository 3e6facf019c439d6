"""The gateway's HTTP server, bound to exactly the configured addresses (IPv4 as well as IPv6).

LocalStack 2026.3.0's Twisted server passes the host of ``GATEWAY_LISTEN`` to IPv6 endpoints
only: an IPv4 address such as ``127.0.0.1:4566`` is served on ``0.0.0.0:4566``, i.e. on every
interface. This stack runs Lambda code and Glue scripts as host processes, so a wildcard
listener lets anyone on the network run code on this machine. Selected with
``GATEWAY_SERVER=mhealth-twisted``; ``0.0.0.0`` is still honoured when it is asked for.
"""

from __future__ import annotations

import socket
import time
from typing import Any, Final, cast

from localstack.aws.serving.twisted import TLSMultiplexerFactory
from localstack.runtime.server.core import RuntimeServer, RuntimeServerPlugin
from localstack.runtime.server.twisted import TwistedRuntimeServer
from rolo.gateway import Gateway
from rolo.serving.twisted import TwistedGateway
from twisted.internet import endpoints, reactor, ssl

from localstack import config

#: The ``GATEWAY_SERVER`` value that selects this server.
SERVER_NAME = "mhealth-twisted"

#: A response body waits while more than this is queued for its client (see ``_backpressure``).
MAX_QUEUED_BYTES: Final = 4 * 1024 * 1024
_QUEUE_POLL_S: Final = 0.002


def _queued_bytes(transport: Any) -> int:
    """Bytes a Twisted TCP transport still holds for its peer (0 for any other transport)."""
    data = getattr(transport, "dataBuffer", b"")
    pending = len(data) - int(getattr(transport, "offset", 0))
    return pending + int(getattr(transport, "_tempDataLen", 0))


def _backpressure() -> None:
    """WSGI responses wait for a slow client instead of queueing the whole body in memory.

    Twisted's WSGI ``write`` hands each block of the body to the transport and returns at once
    (its own comment: "providing some back-pressure may nevertheless be a Good Thing"), so a
    client reading slower than the gateway produces, such as the convert step streaming a raw log
    through its parser, has the whole object queued in LocalStack's memory: five conversions of
    220 MB logs at once grew LocalStack by 1 GB at 10x the dataset. After each block the
    response's thread now waits while more than ``MAX_QUEUED_BYTES`` are queued for the client
    (or until the client is gone).
    """
    from twisted.web.wsgi import _WSGIResponse

    if getattr(_WSGIResponse.write, "_mhealth_backpressure", False):
        return
    original = _WSGIResponse.write

    def write(self: Any, data: bytes) -> Any:
        result = original(self, data)  # type: ignore[no-untyped-call]
        transport = getattr(getattr(self.request, "channel", None), "transport", None)
        while (
            transport is not None
            and not self._requestFinished
            and not getattr(transport, "disconnected", False)
            and _queued_bytes(transport) > MAX_QUEUED_BYTES
        ):
            time.sleep(_QUEUE_POLL_S)
        return result

    write._mhealth_backpressure = True  # type: ignore[attr-defined]
    _WSGIResponse.write = write  # type: ignore[method-assign]


class BoundTwistedRuntimeServer(TwistedRuntimeServer):
    """LocalStack's Twisted server, listening on each ``GATEWAY_LISTEN`` host it is given."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def register(
        self,
        gateway: Gateway,
        listen: list[config.HostAndPort],
        ssl_creds: tuple[str, str] | None = None,
    ) -> None:
        _backpressure()
        site = TwistedGateway(gateway)
        protocol_factory: Any = site
        if ssl_creds:
            cert_file_name, key_file_name = ssl_creds
            # Twisted's and rolo's classes are untyped (or typed by interface only) here.
            context_factory: Any = ssl.DefaultOpenSSLContextFactory(  # type: ignore[no-untyped-call]
                key_file_name, cert_file_name
            )
            context_factory.getContext().use_certificate_chain_file(cert_file_name)
            protocol_factory = TLSMultiplexerFactory(context_factory, False, cast(Any, site))
        for host_and_port in listen:
            endpoint: Any
            host = host_and_port.host.strip("[]")
            if config.is_ipv6_address(host):
                endpoint = endpoints.TCP6ServerEndpoint(  # type: ignore[no-untyped-call]
                    reactor, host_and_port.port, interface=host
                )
            else:
                endpoint = endpoints.TCP4ServerEndpoint(  # type: ignore[no-untyped-call]
                    reactor, host_and_port.port, interface=host or "0.0.0.0"
                )
            endpoint.listen(protocol_factory)


#: A wildcard bind is reached on loopback.
_WILDCARD_TO_LOOPBACK = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}
_GATEWAY_WAIT_S = 15.0


def _wait_for_bound_gateway(runtime: Any) -> None:
    """LocalStack's ready monitor waits for the gateway on ``localhost`` over IPv4 before it
    runs the ``on_infra_ready`` hooks (and completes the READY stage): a gateway bound to an
    IPv6 address alone never answers there, so they never ran. Probe the address it is bound
    to instead."""
    listen = runtime.config.GATEWAY_LISTEN[0]
    host = listen.host.strip("[]")
    host = _WILDCARD_TO_LOOPBACK.get(host, host)
    deadline = time.monotonic() + _GATEWAY_WAIT_S
    while True:
        try:
            with socket.create_connection((host, listen.port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"gave up waiting for gateway server to start on {listen}"
                ) from None
            time.sleep(0.3)


class BoundTwistedRuntimeServerPlugin(RuntimeServerPlugin):
    name = SERVER_NAME

    def load(self, *args: Any, **kwargs: Any) -> RuntimeServer:
        from localstack.runtime.runtime import LocalstackRuntime

        LocalstackRuntime._wait_for_gateway = _wait_for_bound_gateway  # type: ignore[method-assign]
        return BoundTwistedRuntimeServer()
