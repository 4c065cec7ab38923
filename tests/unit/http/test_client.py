"""HTTPClient logic against `responses` (no sockets)."""

from __future__ import annotations

import logging
import re
import threading

import pytest
import requests
import responses
import urllib3
from responses import matchers

from syncclients import (
    BreakerPolicy,
    CircuitOpenError,
    ConnectError,
    HTTPClient,
    HTTPStatusError,
    InvalidHeaderError,
    ProtocolError,
    ResponseTooLargeError,
    RetryPolicy,
    UsageError,
)
from syncclients.resilience import retry as retry_mod
from syncclients.transports.http import parse_retry_after

BASE = "http://svc.test/api"


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(retry_mod.backoff._sync.time, "sleep", slept.append)
    return slept


@pytest.fixture
def client():
    with HTTPClient(BASE, retry=RetryPolicy(max_attempts=3, initial_delay_s=0.01), hooks=[]) as c:
        yield c


@responses.activate
def test_get_decodes_json_text_and_empty(client: HTTPClient) -> None:
    responses.get(f"{BASE}/j", json={"a": 1})
    responses.get(f"{BASE}/t", body="héllo", content_type="text/plain; charset=utf-8")
    responses.get(f"{BASE}/e", status=204)
    responses.get(f"{BASE}/p", body=b'{"x": 2}', content_type="application/problem+json")
    assert client.get("j") == {"a": 1}
    assert client.get("/t") == "héllo"
    assert client.get("e") is None
    assert client.get("p") == {"x": 2}


@responses.activate
def test_invalid_json_raises_protocol_error_with_bounded_excerpt(client: HTTPClient) -> None:
    responses.get(f"{BASE}/bad", body="{" + "x" * 5000, content_type="application/json")
    with pytest.raises(ProtocolError) as info:
        client.get("bad")
    assert 0 < len(info.value.excerpt) <= 520


@responses.activate
def test_non_2xx_raises_http_status_error_with_details(client: HTTPClient) -> None:
    responses.get(f"{BASE}/missing", status=404, body="no such item " * 200)
    with pytest.raises(HTTPStatusError) as info:
        client.get("missing")
    err = info.value
    assert err.status_code == 404
    assert err.response is not None and err.response.status_code == 404
    assert err.retry_after is None
    assert len(err.body_excerpt) <= 520
    assert err.request_id and err.request_id in str(err)
    assert len(responses.calls) == 1  # 404 is not retried


@responses.activate
def test_get_retried_on_503_and_same_request_id_on_every_attempt(
    client: HTTPClient, no_sleep
) -> None:
    responses.get(f"{BASE}/x", status=503, headers={"Retry-After": "2"})
    responses.get(f"{BASE}/x", json={"ok": True})
    assert client.get("x") == {"ok": True}
    ids = {c.request.headers["X-Request-ID"] for c in responses.calls}
    assert len(responses.calls) == 2 and len(ids) == 1
    assert no_sleep == [2.0]  # Retry-After honoured exactly


@responses.activate
def test_post_is_never_retried_silently(client: HTTPClient) -> None:
    responses.post(f"{BASE}/orders", status=503)
    with pytest.raises(HTTPStatusError):
        client.post("orders", json={"n": 1})
    assert len(responses.calls) == 1


@responses.activate
@pytest.mark.parametrize("kwargs", [{"idempotent": True}, {"headers": {"Idempotency-Key": "k-1"}}])
def test_post_retried_when_declared_idempotent(client: HTTPClient, kwargs: dict) -> None:
    responses.post(f"{BASE}/orders", status=502)
    responses.post(f"{BASE}/orders", json={"id": 9})
    assert client.post("orders", json={"n": 1}, **kwargs) == {"id": 9}
    assert len(responses.calls) == 2


@responses.activate
def test_get_not_retried_when_declared_not_idempotent(client: HTTPClient) -> None:
    responses.get(f"{BASE}/x", status=503)
    with pytest.raises(HTTPStatusError):
        client.get("x", idempotent=False)
    assert len(responses.calls) == 1


@responses.activate
def test_connect_failure_is_retried_even_for_post(client: HTTPClient) -> None:
    refused = requests.exceptions.ConnectionError(
        urllib3.exceptions.MaxRetryError(
            None, "/", urllib3.exceptions.NewConnectionError(None, "refused")
        )
    )
    responses.post(f"{BASE}/orders", body=refused)
    responses.post(f"{BASE}/orders", json={"id": 1})
    assert client.post("orders", json={}) == {"id": 1}
    assert len(responses.calls) == 2


@responses.activate
def test_connect_error_surfaces_as_builtin_connection_error(client: HTTPClient) -> None:
    refused = requests.exceptions.ConnectionError(
        urllib3.exceptions.MaxRetryError(
            None, "/", urllib3.exceptions.NewConnectionError(None, "refused")
        )
    )
    responses.get(f"{BASE}/down", body=refused)
    with pytest.raises(ConnectionError) as info:
        client.get("down")
    assert isinstance(info.value, ConnectError)
    assert len(responses.calls) == 3  # a connection that was never made is always retried


@responses.activate
def test_request_id_from_caller_is_kept_and_tenant_header_sent() -> None:
    responses.get(
        f"{BASE}/x",
        json={},
        match=[matchers.header_matcher({"X-Request-ID": "abc", "X-Tenant-ID": "t-7"})],
    )
    with HTTPClient(BASE, tenant_id="t-7", hooks=[]) as c:
        c.get("x", headers={"X-Request-ID": "abc"})


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Evil": "a\r\nInjected: 1"},
        {"X-Evil": "a\nb"},
        {"Bad Name": "v"},
        {"X-Nul": "a\x00"},
        {"X-Num": 5},
    ],
)
@responses.activate
def test_header_injection_rejected_before_sending(client: HTTPClient, headers: dict) -> None:
    with pytest.raises(InvalidHeaderError):
        client.get("x", headers=headers)
    assert len(responses.calls) == 0


def test_invalid_default_headers_and_base_url_rejected_at_construction() -> None:
    with pytest.raises(InvalidHeaderError):
        HTTPClient(BASE, headers={"X": "a\rb"})
    with pytest.raises(InvalidHeaderError):
        HTTPClient(BASE, tenant_id="t\n1")
    with pytest.raises(UsageError):
        HTTPClient("svc.test/api")


@responses.activate
def test_response_size_limit_by_content_length_and_by_stream() -> None:
    responses.get(f"{BASE}/big", body=b"x" * 5000)
    responses.get(f"{BASE}/ok", body=b"x" * 100)
    with HTTPClient(BASE, max_response_bytes=1000, hooks=[]) as c:
        with pytest.raises(ResponseTooLargeError) as info:
            c.get("big")
        assert info.value.limit_bytes == 1000
        assert c.get("ok") == "x" * 100


@responses.activate
def test_breaker_opens_and_rejects_without_sending() -> None:
    responses.get(f"{BASE}/x", status=500)
    policy = BreakerPolicy(failure_threshold=2, recovery_timeout_s=60)
    with HTTPClient(BASE, breaker=policy, retry=RetryPolicy.never(), hooks=[]) as c:
        for _ in range(2):
            with pytest.raises(HTTPStatusError):
                c.get("x")
        with pytest.raises(CircuitOpenError):
            c.get("x")
        assert len(responses.calls) == 2
        m = c.metrics()
        assert (m.calls, m.errors, m.rejected) == (3, 3, 1)
        assert m.breaker is not None and m.breaker.state == "open"


@responses.activate
def test_4xx_do_not_open_the_breaker() -> None:
    responses.get(f"{BASE}/x", status=404)
    with HTTPClient(BASE, breaker=BreakerPolicy(failure_threshold=1), hooks=[]) as c:
        for _ in range(3):
            with pytest.raises(HTTPStatusError):
                c.get("x")
        assert c.breaker is not None and c.breaker.state == "closed"


@responses.activate
def test_metrics_counts_and_latency(client: HTTPClient) -> None:
    responses.get(f"{BASE}/x", status=503)
    responses.get(f"{BASE}/x", json=1)
    client.get("x")
    m = client.metrics()
    assert (m.calls, m.successes, m.attempts, m.retries) == (1, 1, 2, 1)
    assert m.latency_p50_s is not None and m.latency_p50_s >= 0
    assert m.budget_tokens is not None


@responses.activate
def test_request_returns_response_and_put_delete_patch(client: HTTPClient) -> None:
    responses.put(f"{BASE}/r", json={"put": 1})
    responses.patch(f"{BASE}/r", json={"patch": 1})
    responses.delete(f"{BASE}/r", status=204)
    responses.get(f"{BASE}/r", json={"q": 1}, match=[matchers.query_param_matcher({"a": "1"})])
    assert client.put("r", json={}) == {"put": 1}
    assert client.patch("r", json={}) == {"patch": 1}
    assert client.delete("r") is None
    r = client.request("GET", "r", params={"a": "1"})
    assert isinstance(r, requests.Response) and r.json() == {"q": 1}


def test_closed_client_refuses_calls_and_close_is_idempotent() -> None:
    c = HTTPClient(BASE, hooks=[])
    c.close()
    c.close()
    assert c.closed
    with pytest.raises(UsageError):
        c.get("x")


@responses.activate
def test_health_check_reports_without_raising(client: HTTPClient) -> None:
    responses.get(f"{BASE}/health", json={"ok": True})
    responses.get(f"{BASE}/down", status=503)
    assert client.health_check("/health").ok
    down = client.health_check("down")
    assert not down.ok and down.status_code == 503
    nowhere = client.health_check("nowhere")
    assert (
        not nowhere.ok
        and nowhere.status_code is None
        and "ConnectionLostError" in (nowhere.error or "")
    )


def test_repr_hides_credentials_in_url() -> None:
    c = HTTPClient("https://user:secret@svc.test/api?key=topsecret", hooks=[])
    assert "secret" not in repr(c) and "topsecret" not in c.target
    c.close()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (None, None),
        ("soon", None),
        ("-5", None),
        ("Wed, 21 Oct 2026 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2026 07:27:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    import calendar

    now = calendar.timegm((2026, 10, 21, 7, 28, 0))
    assert parse_retry_after(value, now=now) == expected


@responses.activate
def test_shared_client_across_threads(client: HTTPClient) -> None:
    responses.get(re.compile(rf"{BASE}/n/\d+"), json={"ok": 1})
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for i in range(20):
                assert client.get(f"n/{i}") == {"ok": 1}
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert client.metrics().calls == 160


@responses.activate
def test_logs_never_contain_query_secrets(caplog: pytest.LogCaptureFixture) -> None:
    responses.get(f"{BASE}/x", status=503)
    with HTTPClient(BASE, retry=RetryPolicy(max_attempts=2, initial_delay_s=0)) as c:
        with caplog.at_level(logging.DEBUG), pytest.raises(HTTPStatusError) as info:
            c.get("x", params={"api_key": "sk-live-123"})
    assert "sk-live-123" not in caplog.text
    assert "sk-live-123" not in str(info.value)
