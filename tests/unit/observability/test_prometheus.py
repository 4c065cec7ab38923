"""Prometheus plugin: scrape the registry's text exposition and parse it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from syncclients import BreakerPolicy, HTTPClient, HTTPStatusError, RetryPolicy
from syncclients.observability import disable, enable
from syncclients.observability.prometheus import BUCKETS_S

from .conftest import Scripted


def scrape(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def test_http_measurements_retries_and_breaker_gauge(http_server: Scripted) -> None:
    registry = CollectorRegistry()
    enable("prometheus", registry=registry)
    http_server.statuses = [503, 200, 503, 503]
    with HTTPClient(
        http_server.url,
        hooks=[],
        retry=RetryPolicy(max_attempts=2),
        breaker=BreakerPolicy(failure_threshold=2, recovery_timeout_s=60),
    ) as client:
        assert client.get("/a") == {"ok": True}  # 503 then 200
        with pytest.raises(HTTPStatusError):
            client.get("/b")  # 503, 503: two failures in a row open the breaker
    samples = scrape(registry)
    hist = "syncclients_http_client_request_duration_seconds"
    base = {"method": "GET", "server_address": "127.0.0.1"}

    def labels(**extra: str) -> tuple[tuple[str, str], ...]:
        return tuple(sorted({**base, **extra}.items()))

    assert samples[(f"{hist}_count", labels(status_code="503", error_type="503"))] == 3
    assert samples[(f"{hist}_count", labels(status_code="200", error_type=""))] == 1
    top = labels(status_code="200", error_type="", le=str(BUCKETS_S[-1]))
    assert samples[(f"{hist}_bucket", top)] == 1
    assert BUCKETS_S[-1] >= 120  # reaches LLM durations
    target = f"{http_server.url}/"
    attempts = "syncclients_client_attempts_total"
    assert (
        samples[(attempts, (("outcome", "success"), ("protocol", "http"), ("target", target)))] == 1
    )
    assert (
        samples[(attempts, (("outcome", "failure"), ("protocol", "http"), ("target", target)))] == 3
    )
    assert (
        samples[("syncclients_client_retries_total", (("protocol", "http"), ("target", target)))]
        == 2
    )
    gauge = "syncclients_circuit_breaker_state"
    assert samples[(gauge, (("state", "open"), ("target", target)))] == 1
    assert samples[(gauge, (("state", "closed"), ("target", target)))] == 0
    assert disable("prometheus") is True
    assert scrape(registry) == {}  # unregistered: enable() can register them again
    enable("prometheus", registry=registry)


WORKER = """
import sys
from prometheus_client import CollectorRegistry
from syncclients import BreakerPolicy, HTTPClient
from syncclients.observability import enable, disable

enable("prometheus", registry=CollectorRegistry())
with HTTPClient(sys.argv[1], hooks=[], breaker=BreakerPolicy()) as client:
    for _ in range(int(sys.argv[2])):
        client.get("/w")
disable("prometheus")
"""


def test_multiprocess_mode_two_workers(
    http_server: Scripted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two worker processes (as under gunicorn) write to PROMETHEUS_MULTIPROC_DIR; the
    MultiProcessCollector of the scraping process sums them."""
    from prometheus_client.multiprocess import MultiProcessCollector

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, http_server.url, str(n)], env=env)
        for n in (3, 4)
    ]
    pids = {str(w.pid) for w in workers}
    for w in workers:
        assert w.wait(timeout=60) == 0
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    samples = scrape(registry)
    hist = "syncclients_http_client_request_duration_seconds_count"
    labels = (
        ("error_type", ""),
        ("method", "GET"),
        ("server_address", "127.0.0.1"),
        ("status_code", "200"),
    )
    assert samples[(hist, labels)] == 7
    target = f"{http_server.url}/"
    key = ("outcome", "success"), ("protocol", "http"), ("target", target)
    assert samples[("syncclients_client_attempts_total", key)] == 7
    gauge = {
        dict(k[1])["pid"]
        for k, v in samples.items()
        if k[0] == "syncclients_circuit_breaker_state" and ("state", "closed") in k[1] and v == 1
    }
    assert gauge == pids  # liveall: one series per worker
