"""examples/flask_metrics.py: the app's calls show up in /metrics (parsed) and as spans."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from syncclients.observability import disable
from syncclients.testing import FakeLLMServer, LocalHTTPServer, Reply

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "flask_metrics.py"


@pytest.fixture
def example() -> Iterator[object]:
    spec = importlib.util.spec_from_file_location("flask_metrics_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_metrics_endpoint_and_spans(example: object) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # the example uses the global provider; the plugin is given ours explicitly here so the
    # test does not set process-global OpenTelemetry state
    from syncclients.observability import enable

    enable("opentelemetry", tracer_provider=provider)
    backend = LocalHTTPServer()
    backend.routes[("GET", "/rates/EUR")] = lambda req: Reply(200, {"rate": 1.0})
    with backend.start(), FakeLLMServer("openai") as llm_api:
        app = example.create_app(backend.url, llm_base_url=llm_api.base_url)  # type: ignore[attr-defined]
        try:
            web = app.test_client()
            assert web.get("/price/EUR").json == {"rate": 1.0}
            assert "add" in web.get("/tools").json
            asked = web.get("/ask/hello").json
            assert asked["provider"] == "openai" and asked["answer"]
            scraped = web.get("/metrics")
        finally:
            app.extensions["close"]()
            disable("prometheus")
            disable("opentelemetry")
    assert scraped.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(scraped.get_data(as_text=True))}
    http = families["syncclients_http_client_request_duration_seconds"]
    assert any(
        s.name.endswith("_count") and s.labels["status_code"] == "200" and s.value >= 1
        for s in http.samples
    )
    mcp = families["syncclients_mcp_client_operation_duration_seconds"]
    assert any(
        s.name.endswith("_count") and s.labels["mcp_method"] == "tools/list" for s in mcp.samples
    )
    genai = families["syncclients_gen_ai_client_operation_duration_seconds"]
    assert any(
        s.name.endswith("_count") and s.labels["provider"] == "openai" and s.value >= 1
        for s in genai.samples
    )
    tokens = families["syncclients_gen_ai_client_token_usage"]
    assert {s.labels["token_type"] for s in tokens.samples if s.value > 0} == {"input", "output"}
    spans = exporter.get_finished_spans()
    names = {s.name for s in spans}
    assert {"GET", "tools/list", "chat fake-model"} <= names
    chat = next(s for s in spans if s.name == "chat fake-model")
    assert chat.attributes is not None
    assert chat.attributes["gen_ai.provider.name"] == "openai"
    assert chat.attributes["gen_ai.usage.output_tokens"] > 0
    provider.shutdown()
