"""The extension's newer service models: which protocols they add, and what each view serves.

Offline: the project's own botocore (``requirements/lock.txt``, Athena still ``json``) stands
in for LocalStack's bundled models.
"""

from __future__ import annotations

import copy
from typing import Any

import botocore.session
import pytest
from botocore.model import ServiceModel
from mhealth_localstack.protocols.models import model_protocols, protocol_views, shipped_models


@pytest.fixture(scope="module")
def shipped() -> dict[str, dict[str, Any]]:
    return shipped_models()


@pytest.fixture(scope="module")
def json_athena() -> ServiceModel:
    model = botocore.session.get_session().get_service_model("athena")
    assert model.protocol == "json", "the locked botocore must still speak json to Athena"
    return model


def test_shipped_athena_model_is_rest_json(shipped: dict[str, dict[str, Any]]) -> None:
    metadata = shipped["athena"]["metadata"]
    assert metadata["protocol"] == "rest-json"
    assert metadata["apiVersion"] == "2017-05-18"
    assert "targetPrefix" not in metadata


def test_athena_views_keep_json_on_the_bundled_model_and_add_rest_json(
    shipped: dict[str, dict[str, Any]], json_athena: ServiceModel
) -> None:
    views = protocol_views("athena", json_athena, shipped["athena"])

    assert views is not None
    assert views.protocols == ("json", "rest-json")
    assert views.added_protocols == ("rest-json",)
    assert views.by_protocol["json"] is json_athena
    rest = views.by_protocol["rest-json"]
    assert rest.service_name == "athena"
    assert rest.operation_model("GetQueryExecution").http == {
        "method": "GET",
        "requestUri": "/query-executions/{QueryExecutionId}",
    }


def test_every_json_operation_has_the_same_members_in_rest_json(
    shipped: dict[str, dict[str, Any]], json_athena: ServiceModel
) -> None:
    # One provider serves both views: each operation must take and return the same members.
    rest = ServiceModel(shipped["athena"], "athena")
    for name in json_athena.operation_names:
        old, new = json_athena.operation_model(name), rest.operation_model(name)
        for side in ("input_shape", "output_shape"):
            old_shape, new_shape = getattr(old, side), getattr(new, side)
            old_members = set(old_shape.members) if old_shape is not None else set()
            new_members = set(new_shape.members) if new_shape is not None else set()
            assert old_members <= new_members, f"{name} {side}: {old_members - new_members}"


def test_a_model_in_the_same_protocol_adds_no_view(json_athena: ServiceModel) -> None:
    # The description json_athena was built from, loaded afresh (botocore's own service-2.json).
    same = botocore.session.get_session().get_service_data("athena")
    assert same["metadata"]["protocol"] == json_athena.protocol
    assert protocol_views("athena", json_athena, same) is None


def test_a_new_api_version_is_not_taken_for_a_new_protocol(
    shipped: dict[str, dict[str, Any]], json_athena: ServiceModel
) -> None:
    other = copy.deepcopy(shipped["athena"])
    other["metadata"]["apiVersion"] = "2030-01-01"
    assert protocol_views("athena", json_athena, other) is None


def test_model_protocols_lists_the_preferred_protocol_first() -> None:
    model = ServiceModel(
        {
            "metadata": {"protocol": "json", "protocols": ["smithy-rpc-v2-cbor", "json"]},
            "operations": {},
            "shapes": {},
        },
        "example",
    )
    assert model_protocols(model) == ("json", "smithy-rpc-v2-cbor")
