"""OpenAPIClient on the platform's own OpenAPI document, against the reference server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from syncclients import HTTPStatusError, UsageError
from syncclients.services import OpenAPIClient, RequestValidationError, platform_openapi
from syncclients.testing import PlatformServer


def test_the_shipped_document_is_valid_openapi() -> None:
    spec = platform_openapi()
    validate(spec)
    assert spec["openapi"] == "3.1.0"


def test_operations_become_methods_with_idempotency_from_method_or_mark(
    platform: PlatformServer,
) -> None:
    with OpenAPIClient.from_spec(platform_openapi(), platform.url) as api:
        ops = api.operations
        assert ops["cache_get"].idempotent and ops["cache_set"].idempotent  # GET, PUT
        assert not ops["create_integration"].idempotent  # POST
        assert ops["ingest_events"].idempotent  # POST marked x-idempotent
        assert "model_status" in dir(api)
        assert api.model_status()["data"]["status"] == "ready"
        created = api.create_integration(body={"name": "crm", "category": "sales"})
        iid = created["data"]["integration_id"]
        listed = api.list_integrations(category="sales")
        assert [i["id"] for i in listed["data"]["integrations"]] == [iid]
        assert api.get_integration_status(integration_id=iid)["data"]["health"] == "healthy"
        api.cache_set(namespace="ns 1", key="a/b", body={"value": [1, 2], "ttl_s": 30})
        assert api.cache_get(namespace="ns 1", key="a/b")["data"]["value"] == [1, 2]
        reply = api.ingest_events(
            params={"Idempotency-Key": "k-1"},
            body={"events": [{"event_id": "e1", "type": "t", "timestamp": "2026-01-01T00:00:00Z"}]},
        )
        assert reply["data"]["accepted"] == 1
        with pytest.raises(HTTPStatusError) as info:
            api.get_integration_status(integration_id="missing")
        assert info.value.status_code == 404
    paths = [r.path for r in platform.requests]
    assert "/api/v2/cache/ns%201/a%2Fb" in paths
    assert "/api/v2/integrations?category=sales" in paths
    ingest = next(r for r in platform.requests if r.path == "/api/v2/analytics/events")
    assert ingest.headers["Idempotency-Key"] == "k-1"


def test_bodies_are_validated_before_sending(platform: PlatformServer) -> None:
    with OpenAPIClient.from_spec(platform_openapi(), platform.url) as api:
        with pytest.raises(RequestValidationError, match=r"events/0.*'type' is a required"):
            api.ingest_events(
                params={"Idempotency-Key": "k"},
                body={"events": [{"event_id": "e1", "timestamp": "now"}]},
            )
        with pytest.raises(RequestValidationError, match="is not one of"):
            api.model_process(body={"operation": "telepathy", "input": {}})
        with pytest.raises(RequestValidationError, match="missing parameter 'key'"):
            api.cache_get(namespace="n")
        with pytest.raises(RequestValidationError, match="unknown parameter"):
            api.cache_get(namespace="n", key="k", colour="red")
        with pytest.raises(RequestValidationError, match="body is required"):
            api.create_integration()
        with pytest.raises(AttributeError):
            api.no_such_operation()  # type: ignore[operator]
    assert platform.count() == 0  # nothing was sent


def test_from_a_file_and_the_servers_url(tmp_path: Path, platform: PlatformServer) -> None:
    spec = platform_openapi()
    spec["servers"] = [{"url": platform.url}]
    path = tmp_path / "api.json"
    path.write_text(json.dumps(spec))
    with OpenAPIClient.from_spec(path) as api:
        assert api.health() == {"status": "healthy"}
    with pytest.raises(UsageError):
        OpenAPIClient.from_spec({"swagger": "2.0"}, platform.url)


def test_metrics_is_the_http_clients_snapshot(platform: PlatformServer) -> None:
    with OpenAPIClient.from_spec(platform_openapi(), platform.url) as api:
        api.model_status()
        with pytest.raises(HTTPStatusError):
            api.get_integration_status(integration_id="missing")
        m = api.metrics()
    assert (m.calls, m.successes, m.errors) == (2, 1, 1)
    assert m.attempts == 2 and m.latency_p50_s is not None
