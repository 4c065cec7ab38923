"""Prometheus plugin: the same measurements as counters, histograms and a breaker gauge.

The only module of ours that imports ``prometheus-client`` (extra ``prometheus``). Metrics
(all prefixed ``syncclients_``; durations in seconds, buckets up to 160 s so LLM calls and
long tools fit):

* ``syncclients_http_client_request_duration_seconds{method,server_address,status_code,error_type}``
* ``syncclients_mcp_client_operation_duration_seconds{server,mcp_method,tool,error_type}``
* ``syncclients_rpc_client_call_duration_seconds{target,rpc_method,status_code}``
* ``syncclients_gen_ai_client_operation_duration_seconds{provider,model,error_type}``
* ``syncclients_client_operation_duration_seconds{target,error_type}`` (other clients)
* ``syncclients_gen_ai_client_token_usage_total{provider,model,token_type}``
* ``syncclients_client_attempts_total{protocol,target,outcome}`` and
  ``syncclients_client_retries_total{protocol,target}``
* ``syncclients_circuit_breaker_state{target,state}``: 1 for the breaker's current state
  (``closed``, ``open``, ``half_open``), 0 for the others.

Under gunicorn with ``PROMETHEUS_MULTIPROC_DIR`` set, prometheus-client's multiprocess
mode applies (the gauge uses ``liveall``: one series per live worker, labelled ``pid``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from ..redact import redact_url
from ..resilience.hooks import AttemptRecord
from ..resilience.plugins import AttemptScope, ClientInfo, Plugin
from ._attrs import describe

__all__ = ["BUCKETS_S", "PrometheusPlugin"]

#: Duration buckets in seconds: from 5 ms (a local HTTP call) to 160 s (a long LLM answer).
BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0,
             160.0)  # fmt: skip

_STATES = ("closed", "open", "half_open")

#: metric -> (prometheus name, help, ((label, semconv attribute or "" for the target), ...))
_HISTOGRAMS: dict[str, tuple[str, str, tuple[tuple[str, str], ...]]] = {
    "http.client.request.duration": (
        "syncclients_http_client_request_duration_seconds",
        "Duration of HTTP client requests (one per attempt).",
        (("method", "http.request.method"), ("server_address", "server.address"),
         ("status_code", "http.response.status_code"), ("error_type", "error.type")),
    ),
    "mcp.client.operation.duration": (
        "syncclients_mcp_client_operation_duration_seconds",
        "Duration of MCP requests as seen by the client (one per attempt).",
        (("server", ""), ("mcp_method", "mcp.method.name"), ("tool", "gen_ai.tool.name"),
         ("error_type", "error.type")),
    ),
    "rpc.client.call.duration": (
        "syncclients_rpc_client_call_duration_seconds",
        "Duration of gRPC calls (one per attempt).",
        (("target", ""), ("rpc_method", "rpc.method"),
         ("status_code", "rpc.response.status_code")),
    ),
    "gen_ai.client.operation.duration": (
        "syncclients_gen_ai_client_operation_duration_seconds",
        "Duration of LLM calls (one per attempt).",
        (("provider", "gen_ai.provider.name"), ("model", "gen_ai.request.model"),
         ("error_type", "error.type")),
    ),
    "syncclients.client.operation.duration": (
        "syncclients_client_operation_duration_seconds",
        "Duration of attempts of other clients.",
        (("target", ""), ("error_type", "error.type")),
    ),
}  # fmt: skip


class PrometheusPlugin(Plugin):
    """Prometheus metrics for every client it instruments.

    Args:
        registry: where the metrics are registered; default prometheus-client's global
            ``REGISTRY`` (what ``generate_latest()`` and ``make_wsgi_app()`` expose). They
            are unregistered by :meth:`close` (``disable("prometheus")``).
    """

    name = "prometheus"

    def __init__(self, *, registry: CollectorRegistry | None = None) -> None:
        self._registry = REGISTRY if registry is None else registry
        self._histograms: dict[str, tuple[Histogram, tuple[tuple[str, str], ...]]] = {}
        self._collectors: list[Any] = []
        for metric, (name, text, labels) in _HISTOGRAMS.items():
            hist = Histogram(
                name, text, [label for label, _ in labels], registry=self._registry,
                buckets=BUCKETS_S,
            )  # fmt: skip
            self._histograms[metric] = (hist, labels)
            self._collectors.append(hist)
        self._tokens = Counter(
            "syncclients_gen_ai_client_token_usage",
            "Tokens used by LLM calls.",
            ["provider", "model", "token_type"],
            registry=self._registry,
        )
        self._attempts = Counter(
            "syncclients_client_attempts",
            "Attempts by outcome (success, failure, rejected by the open breaker).",
            ["protocol", "target", "outcome"],
            registry=self._registry,
        )
        self._retries = Counter(
            "syncclients_client_retries",
            "Attempts that were retries.",
            ["protocol", "target"],
            registry=self._registry,
        )
        self._breaker = Gauge(
            "syncclients_circuit_breaker_state",
            "1 for the circuit breaker's current state, 0 for the others.",
            ["target", "state"],
            registry=self._registry,
            multiprocess_mode="liveall",
        )
        self._collectors += [self._tokens, self._attempts, self._retries, self._breaker]
        self._protocols: dict[str, str] = {}
        self._lock = threading.Lock()

    def setup(self, client: ClientInfo) -> None:
        """Remember the client's protocol for the attempt counters."""
        with self._lock:
            self._protocols[client.target] = client.protocol or ""

    def attempt(self, scope: AttemptScope) -> AbstractContextManager[object]:
        """Time the attempt and observe it in its protocol's histogram."""
        return self._timed(scope)

    @contextmanager
    def _timed(self, scope: AttemptScope) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            duration_s = time.perf_counter() - started
            described = describe(scope)
            hist, labels = self._histograms[described.metric]
            target = redact_url(scope.call.client.target)
            values = [
                target if not attr else str(described.metric_attrs.get(attr, ""))
                for _, attr in labels
            ]
            hist.labels(*values).observe(duration_s)
            if described.usage is not None:
                provider = str(described.metric_attrs.get("gen_ai.provider.name", ""))
                model = str(described.metric_attrs.get("gen_ai.request.model", ""))
                for kind, count in zip(("input", "output"), described.usage, strict=True):
                    self._tokens.labels(provider, model, kind).inc(count)

    def on_record(self, record: AttemptRecord) -> None:
        """Count the attempt and its retry; set the breaker gauge."""
        protocol = self._protocols.get(record.target, "")
        target = redact_url(record.target)
        self._attempts.labels(protocol, target, record.outcome).inc()
        if record.attempt > 1 and record.outcome != "rejected":
            self._retries.labels(protocol, target).inc()
        if record.breaker_state is not None:
            for state in _STATES:
                self._breaker.labels(target, state).set(1 if state == record.breaker_state else 0)

    def close(self) -> None:
        """Unregister the metrics from the registry (so the plugin can be enabled again)."""
        for collector in self._collectors:
            with suppress(KeyError):  # already gone
                self._registry.unregister(collector)
        self._collectors = []
