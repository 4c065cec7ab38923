"""A Flask app whose clients export OpenTelemetry traces and Prometheus ``/metrics``.

One HTTPClient (a rates service), one MCPClient (the bundled demo MCP server over stdio)
and, given an OpenAI-compatible endpoint, an LLMRouter live in ``app.extensions``.
``syncclients.observability.enable`` switches both plugins on for every client in the
process (the router's GenAI spans, durations and token usage included); ``/metrics``
serves prometheus-client's text exposition (multiprocess mode when
``PROMETHEUS_MULTIPROC_DIR`` is set, as under gunicorn).

Run:  pip install "syncclients[otel,prometheus,demo,openai]" flask opentelemetry-sdk
      python examples/flask_metrics.py   # a few requests, then the metrics and span names
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

from flask import Flask, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

import syncclients.observability as obs
from syncclients import HTTPClient, MCPClient
from syncclients.llm import LLMRouter, OpenAIProvider

DEMO_SERVER = [sys.executable, "-m", "syncclients.demo.server"]


def create_app(
    rates_url: str,
    mcp_command: Sequence[str] = tuple(DEMO_SERVER),
    llm_base_url: str | None = None,
) -> Flask:
    """The app; its clients are closed by ``app.extensions["close"]()``.

    ``llm_base_url``: an OpenAI-compatible API (key in ``$OPENAI_API_KEY``) behind
    ``/ask/<question>``; None: no LLM route.
    """
    obs.enable("prometheus")
    obs.enable("opentelemetry")  # the global tracer/meter providers: configure the SDK first
    app = Flask(__name__)
    rates = HTTPClient(rates_url)
    tools = MCPClient.stdio(list(mcp_command), name="tools")
    providers = (
        [
            OpenAIProvider(
                model="fake-model",
                api_key=os.environ.get("OPENAI_API_KEY", "sk-example"),
                base_url=llm_base_url,
            )
        ]
        if llm_base_url is not None
        else []
    )
    llm = LLMRouter(providers) if providers else None

    def close() -> None:
        for provider in providers:  # the router closes only providers it built itself
            provider.close()
        tools.close()
        rates.close()

    app.extensions["syncclients"] = {"rates": rates, "tools": tools, "llm": llm}
    app.extensions["close"] = close

    @app.get("/price/<currency>")
    def price(currency: str) -> Any:
        return jsonify(rates.get(f"/rates/{currency}"))

    @app.get("/tools")
    def list_tools() -> Any:
        return jsonify([t.name for t in tools.list_tools()])

    @app.get("/ask/<question>")
    def ask(question: str) -> Any:
        if llm is None:
            return jsonify({"error": "no LLM configured"}), 404
        answer = llm.generate([{"role": "user", "content": question}])
        return jsonify({"answer": answer.text, "provider": answer.provider})

    @app.get("/metrics")
    def metrics() -> Response:
        registry = REGISTRY
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # gunicorn workers: sum their files
            from prometheus_client.multiprocess import MultiProcessCollector

            registry = CollectorRegistry()
            MultiProcessCollector(registry)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    return app


def main() -> int:
    """Serve the app to a few requests (a test client) and show its metrics and spans."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from syncclients.testing import FakeLLMServer, LocalHTTPServer, Reply

    spans = InMemorySpanExporter()  # in production: an OTLP exporter
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    trace.set_tracer_provider(provider)
    backend = LocalHTTPServer()
    backend.routes[("GET", "/rates/EUR")] = lambda req: Reply(200, {"rate": 1.0})
    with backend.start(), FakeLLMServer("openai") as llm_api:
        app = create_app(backend.url, llm_base_url=llm_api.base_url)
        try:
            web = app.test_client()
            print("GET /price/EUR ->", web.get("/price/EUR").json)
            print("GET /tools ->", web.get("/tools").json)
            print("GET /ask/hello ->", web.get("/ask/hello").json)
            text = web.get("/metrics").get_data(as_text=True)
        finally:
            app.extensions["close"]()
    print("GET /metrics (excerpt):")
    for line in text.splitlines():
        if line.startswith(("syncclients_http_client_request_duration_seconds_count",
                            "syncclients_mcp_client_operation_duration_seconds_count",
                            "syncclients_gen_ai_client_operation_duration_seconds_count",
                            "syncclients_gen_ai_client_token_usage_total",
                            "syncclients_client_attempts_total")):  # fmt: skip
            print("  " + line)
    print("spans:", sorted({s.name for s in spans.get_finished_spans()}))
    provider.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
