"""Service plugins registered with LocalStack (entry points ``glue:default``, ``athena:default``).

Each service answers the operations it implements for real (running Glue job scripts,
running Athena SQL) and hands every other operation to LocalStack's bundled moto, which
keeps the Glue Data Catalog and Athena's bookkeeping. moto is reached in the protocol it
understands, whichever protocol the request came in (``protocols/``).
"""

from localstack.services.plugins import Service, aws_provider


@aws_provider(api="glue")  # type: ignore[untyped-decorator]  # LocalStack leaves it untyped
def glue() -> Service:
    from mhealth_localstack.glue.provider import GlueProvider
    from mhealth_localstack.protocols.gateway import MultiProtocolMotoFallbackDispatcher

    return Service.for_provider(
        GlueProvider(), dispatch_table_factory=MultiProtocolMotoFallbackDispatcher
    )


@aws_provider(api="athena")  # type: ignore[untyped-decorator]
def athena() -> Service:
    from mhealth_localstack.athena.provider import AthenaProvider
    from mhealth_localstack.protocols.gateway import MultiProtocolMotoFallbackDispatcher

    return Service.for_provider(
        AthenaProvider(), dispatch_table_factory=MultiProtocolMotoFallbackDispatcher
    )
