"""Fixtures for the observability tests: a scripted HTTP server on 127.0.0.1, OTel SDK
providers with in-memory exporters, and no retry sleeps."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from syncclients.observability import active_plugins, deactivate, disable, enabled
from syncclients.resilience import retry as retry_mod


@dataclass
class Scripted:
    """The server answers each request with the next status of ``statuses`` (then 200)."""

    url: str
    statuses: list[int] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
def http_server() -> Iterator[Scripted]:
    script = Scripted(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            script.headers.append(dict(self.headers))
            status = script.statuses.pop(0) if script.statuses else 200
            body = b'{"ok": true}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    script.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield script
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(retry_mod.backoff._sync.time, "sleep", slept.append)
    return slept


@pytest.fixture(autouse=True)
def _no_leftover_plugins() -> Iterator[None]:
    yield
    for name in enabled():
        disable(name)
    for plugin in active_plugins():
        deactivate(plugin)


@dataclass
class OTel:
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader


@pytest.fixture
def otel() -> Iterator[OTel]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield OTel(tracer_provider, meter_provider, exporter, reader)
    tracer_provider.shutdown()
    meter_provider.shutdown()
