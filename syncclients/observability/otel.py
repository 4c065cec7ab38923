"""OpenTelemetry plugin: client spans per attempt and duration metrics (``opentelemetry-api``).

The only module of ours that imports OpenTelemetry (extra ``otel``). With only the API
installed, spans and metrics are no-ops until the application installs an SDK (tracer and
meter providers); ``enable("opentelemetry")`` uses the global providers by default.

What it produces (OpenTelemetry semantic conventions; see :mod:`._attrs`):

* one CLIENT span per attempt, current while the attempt runs (so a nested client's span is
  its child and propagators see it): HTTP ``{method}`` with ``http.request.method``,
  ``url.full`` (redacted), ``server.address``/``server.port``,
  ``http.response.status_code``, ``http.request.resend_count`` on retries and
  ``error.type``; MCP ``{mcp.method.name} {target}`` with ``mcp.method.name``,
  ``gen_ai.tool.name``, ``jsonrpc.request.id``, ``mcp.session.id`` (Streamable HTTP),
  ``mcp.protocol.version`` (once negotiated), ``network.transport``, ``error.type``
  (``tool_error`` for a result with ``isError``), and the span's W3C trace context (``traceparent``,
  ``tracestate``) sent to the server in each request's ``params._meta``;
  gRPC ``{service}/{method}`` with ``rpc.*``; LLM ``chat {model}`` with ``gen_ai.*`` and
  token usage;
* span events on the caller's current span: ``syncclients.retry`` (attempt, delay) and
  ``syncclients.breaker_state_change`` (previous and new state);
* histograms ``http.client.request.duration``, ``mcp.client.operation.duration``,
  ``rpc.client.call.duration``, ``gen_ai.client.operation.duration`` (seconds) and
  ``gen_ai.client.token.usage`` (tokens), with the conventions' advisory bucket boundaries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .. import __version__
from ..redact import redact_url
from ..resilience.hooks import AttemptRecord
from ..resilience.plugins import AttemptScope, Plugin
from ._attrs import HTTP_BUCKETS_S, LONG_BUCKETS_S, describe

__all__ = ["TOKEN_BUCKETS", "OpenTelemetryPlugin"]

#: ``gen_ai.client.token.usage`` advisory boundaries (semconv GenAI), tokens.
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304)

_W3C = TraceContextTextMapPropagator()  # traceparent/tracestate only, never baggage

_DURATIONS = {
    "http.client.request.duration": ("Duration of HTTP client requests.", HTTP_BUCKETS_S),
    "mcp.client.operation.duration": ("Duration of MCP requests as seen by the client.",
                                      LONG_BUCKETS_S),
    "rpc.client.call.duration": ("Duration of gRPC calls as seen by the client.",
                                 HTTP_BUCKETS_S),
    "gen_ai.client.operation.duration": ("GenAI operation duration.", LONG_BUCKETS_S),
    "syncclients.client.operation.duration": ("Duration of other client attempts.",
                                              LONG_BUCKETS_S),
}  # fmt: skip


class OpenTelemetryPlugin(Plugin):
    """Traces and metrics for every client it instruments.

    Args:
        tracer_provider: the tracer provider; None: the global one.
        meter_provider: the meter provider; None: the global one.
        record_content: also put an MCP tool call's arguments and result on its span
            (``gen_ai.tool.call.arguments``, ``gen_ai.tool.call.result``, opt-in attributes
            of the GenAI conventions) as JSON, with values under secret-looking keys and
            secrets in text hidden (:mod:`syncclients.redact`), each at most 4096
            characters. False (the default): spans never carry arguments or results.
    """

    name = "opentelemetry"

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        record_content: bool = False,
    ) -> None:
        self.record_content = record_content
        self._tracer = trace.get_tracer("syncclients", __version__, tracer_provider)
        meter = metrics.get_meter("syncclients", __version__, meter_provider)
        self._durations = {
            name: meter.create_histogram(
                name, unit="s", description=text, explicit_bucket_boundaries_advisory=buckets
            )
            for name, (text, buckets) in _DURATIONS.items()
        }
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self._lock = threading.Lock()
        self._breaker_states: dict[str, str] = {}

    def attempt(self, scope: AttemptScope) -> AbstractContextManager[object]:
        """A CLIENT span, current while the attempt runs; a duration measurement after."""
        return self._span(scope)

    @contextmanager
    def _span(self, scope: AttemptScope) -> Iterator[None]:
        started = time.perf_counter()
        with self._tracer.start_as_current_span(
            scope.call.operation,
            kind=SpanKind.CLIENT,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            if scope.call.client.protocol == "mcp":
                _W3C.inject(scope.carrier)  # sent in params._meta (MCP trace context)
            try:
                yield
            finally:
                self._finish(span, scope, time.perf_counter() - started)

    def _finish(self, span: trace.Span, scope: AttemptScope, duration_s: float) -> None:
        described = describe(scope, record_content=self.record_content)
        if span.is_recording():
            span.update_name(described.span_name)
            span.set_attributes(described.span_attrs)
            if described.failed:
                span.set_status(Status(StatusCode.ERROR))
        self._durations[described.metric].record(duration_s, described.metric_attrs)
        if described.usage is not None:
            for kind, count in zip(("input", "output"), described.usage, strict=True):
                attrs: dict[str, Any] = {**described.metric_attrs, "gen_ai.token.type": kind}
                self._tokens.record(count, attrs)

    def on_record(self, record: AttemptRecord) -> None:
        """Retries and breaker transitions as events on the caller's current span."""
        span = trace.get_current_span()
        if record.breaker_state is not None:
            with self._lock:
                before = self._breaker_states.get(record.target, "closed")
                self._breaker_states[record.target] = record.breaker_state
            if before != record.breaker_state and span.is_recording():
                span.add_event(
                    "syncclients.breaker_state_change",
                    {
                        "syncclients.target": redact_url(record.target),
                        "syncclients.breaker.previous_state": before,
                        "syncclients.breaker.state": record.breaker_state,
                    },
                )
        if record.will_retry and span.is_recording():
            span.add_event(
                "syncclients.retry",
                {
                    "syncclients.operation": record.operation,
                    "syncclients.attempt": record.attempt,
                    "syncclients.delay_s": record.delay_s or 0.0,
                },
            )
