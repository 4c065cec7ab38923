"""The issue-15 measurement: per-call overhead of the plugins, tracing off and on.

Times N calls through one client's resilience pipeline with a trivial attempt (so only our
instrumentation is measured), then N real HTTPClient GETs against a local server, each with
no plugin, the OpenTelemetry plugin (SDK, every span sampled, a no-op exporter) and the
Prometheus plugin (a private registry).

Run:  python bench/observability_overhead.py [calls=20000]
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from prometheus_client import CollectorRegistry

from syncclients import HTTPClient, RetryPolicy
from syncclients.observability import Plugin, activate, deactivate
from syncclients.observability.otel import OpenTelemetryPlugin
from syncclients.observability.prometheus import PrometheusPlugin
from syncclients.resilience import Resilience


class _Drop(SpanExporter):
    def export(self, spans: object) -> SpanExportResult:  # type: ignore[override]
        return SpanExportResult.SUCCESS


class _Response:
    status_code = 200
    url = "http://bench.test/items"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 65536  # headers and body in one write (no delayed-ACK stall)

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def _per_call_us(fn: Callable[[], object], n: int) -> float:
    for _ in range(min(n, 500)):
        fn()
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n * 1e6


def main(argv: list[str]) -> int:
    n = int(argv[1]) if len(argv) > 1 else 20_000
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(_Drop()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    variants: list[tuple[str, Plugin | None]] = [
        ("no plugin", None),
        ("opentelemetry", OpenTelemetryPlugin(
            tracer_provider=tracer_provider, meter_provider=meter_provider)),
        ("prometheus", PrometheusPlugin(registry=CollectorRegistry())),
    ]  # fmt: skip
    pipe = Resilience(
        target="http://bench.test/",
        retry=RetryPolicy(max_attempts=1),
        breaker=None,
        budget=None,
        hooks=(),
        protocol="http",
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = HTTPClient(f"http://127.0.0.1:{server.server_address[1]}", hooks=[])
    print(f"{n} calls each; microseconds per call")
    try:
        for label, plugin in variants:
            if plugin is not None:
                activate(plugin)
            try:
                bare = _per_call_us(
                    lambda: pipe.call(lambda ctx: _Response(), operation="GET /items",
                                      retryable=lambda e: False),
                    n,
                )  # fmt: skip
                http = _per_call_us(lambda: client.get("/items"), max(n // 10, 100))
            finally:
                if plugin is not None:
                    deactivate(plugin)
            print(f"  {label:14s} pipeline {bare:8.1f} us   HTTP GET (local) {http:8.1f} us")
    finally:
        client.close()
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
