"""Service models newer than LocalStack's bundled ones, one view per wire protocol.

AWS moves services between wire protocols (Athena: ``json`` up to botocore 1.44.8,
``rest-json`` since). LocalStack 2026.3.0 parses and serializes with the models of the
botocore it bundles (1.42.72), so requests from a newer SDK cannot be read. This module
reads the newer models shipped in ``data/`` (copied unchanged from the newest botocore
wheel, Apache-2.0, see ``data/NOTICE``) and, for each service whose newer model speaks a
protocol the bundled one does not, offers one ``ServiceModel`` per protocol: the bundled
model for the protocols it already speaks (so those requests are handled exactly as before),
the newer model for the new ones. Both views carry the service's own name, so they reach
the same provider.

The next protocol migration is a model update: drop the newer ``service-2.json.gz`` into
``data/<service>/<api-version>/``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from botocore.model import ServiceModel

DATA_DIR: Final = Path(__file__).parent / "data"


def model_protocols(model: ServiceModel) -> tuple[str, ...]:
    """Every protocol a model speaks, its preferred one first (``metadata.protocols``)."""
    listed = model.metadata.get("protocols") or []
    ordered = [model.protocol, *listed]
    return tuple(dict.fromkeys(p for p in ordered if p))


@dataclass(frozen=True)
class ProtocolViews:
    """One service's models by wire protocol, all named after the service."""

    service: str
    bundled_protocol: str
    by_protocol: Mapping[str, ServiceModel]

    @property
    def protocols(self) -> tuple[str, ...]:
        return tuple(self.by_protocol)

    @property
    def added_protocols(self) -> tuple[str, ...]:
        """Protocols only the newer model speaks."""
        return tuple(p for p in self.by_protocol if self.by_protocol[p] is not self.bundled)

    @property
    def bundled(self) -> ServiceModel:
        return self.by_protocol[self.bundled_protocol]


def shipped_models(data_dir: Path = DATA_DIR) -> dict[str, dict[str, Any]]:
    """The newer service descriptions in ``data_dir``, by service name (newest API version)."""
    found: dict[str, dict[str, Any]] = {}
    for service_dir in sorted(p for p in data_dir.iterdir() if p.is_dir()):
        versions = sorted(p for p in service_dir.iterdir() if p.is_dir())
        if not versions:
            continue
        newest = versions[-1]
        gz, plain = newest / "service-2.json.gz", newest / "service-2.json"
        if gz.is_file():
            with gzip.open(gz, "rt", encoding="utf-8") as stream:
                found[service_dir.name] = json.load(stream)
        elif plain.is_file():
            found[service_dir.name] = json.loads(plain.read_text(encoding="utf-8"))
    return found


def protocol_views(
    service: str, bundled: ServiceModel, newer_description: Mapping[str, Any]
) -> ProtocolViews | None:
    """The per-protocol views of ``service``, or None when the newer model adds no protocol.

    A protocol both models speak is served from the bundled model, which LocalStack's own
    provider and moto were written against.
    """
    newer = ServiceModel(dict(newer_description), service)
    if newer.metadata.get("apiVersion") != bundled.metadata.get("apiVersion"):
        # A new API version is a different API, not a new encoding of the same one.
        return None
    bundled_protocols = model_protocols(bundled)
    added = [p for p in model_protocols(newer) if p not in bundled_protocols]
    if not added:
        return None
    by_protocol: dict[str, ServiceModel] = dict.fromkeys(bundled_protocols, bundled)
    by_protocol.update(dict.fromkeys(added, newer))
    return ProtocolViews(service, bundled.protocol, by_protocol)
