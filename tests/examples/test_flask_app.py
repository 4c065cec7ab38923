"""examples/flask_app.py under a real threaded WSGI server on 127.0.0.1, concurrent requests.

The app is the example's own ``create_app``; the MCP server is the bundled demo server
(a real subprocess over stdio) and the HTTP backend a LocalHTTPServer.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests

from syncclients.testing import LocalHTTPServer, Reply

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "flask_app.py"
THRESHOLD = 3  # the breaker opens after this many consecutive failures


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("flask_app_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and Flask look the module up by name
    spec.loader.exec_module(module)
    return module


flask_app = _load_example()


class Served:
    """The running app: its URL, its clients and its backend."""

    def __init__(
        self, app: Any, backend: LocalHTTPServer, backend_down: threading.Event, server: Any
    ) -> None:
        self.app = app
        self.clients = app.extensions["syncclients"]
        self.backend = backend
        self.backend_down = backend_down
        self.server = server

    def get(self, path: str, **params: Any) -> tuple[int, Any, requests.Response]:
        """One request on its own connection (requests.get: no shared Session)."""
        response = requests.get(f"{self.server.url}/{path}", params=params, timeout=30)
        return response.status_code, response.json(), response


@pytest.fixture
def served() -> Iterator[Served]:
    backend = LocalHTTPServer()
    backend_down = threading.Event()  # set: the backend resets every connection
    backend.routes[("GET", "/rates/USD")] = lambda req: (
        Reply(close=True) if backend_down.is_set() else Reply(200, {"rate": 2.0})
    )
    backend.start()
    app = flask_app.create_app(
        {
            "RATES_URL": backend.url,
            "MCP_COMMAND": list(flask_app.DEMO_SERVER),
            "MCP_RESTART_ON_EXIT": False,  # a killed server stays dead: deterministic 503s
            "MCP_BREAKER_THRESHOLD": THRESHOLD,
            "MCP_BREAKER_RECOVERY_S": 60.0,
        }
    )
    try:
        with flask_app.ServerThread(app) as server:
            yield Served(app, backend, backend_down, server)
    finally:
        app.extensions["syncclients"].close()
        backend.stop()


def test_concurrent_requests_share_one_client(served: Served) -> None:
    mcp = served.clients.mcp
    assert mcp.pid is None  # building the app started nothing: clients connect lazily

    def one(i: int) -> tuple[int, Any, Any]:
        return served.get("api/add", a=i, b=1000)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(one, range(40)))

    assert [status for status, _, _ in answers] == [200] * 40
    assert [body["sum"] for _, body, _ in answers] == [i + 1000 for i in range(40)]
    # One MCPClient for the whole app, so one server process answered every request.
    assert {body["server_pid"] for _, body, _ in answers} == {mcp.pid}
    assert served.app.extensions["syncclients"].mcp is mcp
    assert mcp.resilience.breaker is not None
    assert mcp.resilience.breaker.state == "closed"


def test_both_clients_in_one_view_and_client_errors(served: Served) -> None:
    status, body, _ = served.get("api/price/cheese", currency="usd")
    assert (status, body) == (200, {"item": "cheese", "currency": "USD", "price": 15.8})
    status, body, _ = served.get("api/price/nothing")
    assert status == 404 and "no item 'nothing'" in body["detail"]
    status, body, _ = served.get("api/add", a="x", b=1)
    assert (status, body) == (400, {"error": "a and b must be integers"})
    status, body, _ = served.get("api/tools")
    assert status == 200 and {"add", "lookup"} <= set(body["tools"])


def test_dead_mcp_server_is_503_then_breaker_open_is_503(served: Served) -> None:
    status, body, _ = served.get("api/add", a=1, b=2)
    assert status == 200
    pid = served.clients.mcp.pid
    assert pid is not None and body["server_pid"] == pid

    os.kill(pid, signal.SIGKILL)

    # Each failed attempt counts on the breaker; it opens within THRESHOLD calls (sooner if
    # a write raced the exit: ConnectionLostError is retried for a read-only tool).
    unavailable = 0
    for _ in range(THRESHOLD + 1):
        status, body, response = served.get("api/add", a=1, b=2)
        assert status == 503
        assert response.headers["Content-Type"] == "application/json"
        if body["reason"] == "circuit_open":
            break
        unavailable += 1
        assert body["error"] == "service unavailable"
        assert body["reason"] == "unavailable"
        assert body["detail"] in ("ServerExitedError", "ConnectionLostError")
    assert 1 <= unavailable <= THRESHOLD
    assert body["reason"] == "circuit_open"
    assert body["error"] == "service temporarily unavailable"
    assert body["service"] == "mcp:tools"
    assert 1 <= body["retry_after_s"] <= 60
    assert response.headers["Retry-After"] == str(body["retry_after_s"])
    assert served.get("healthz")[1] == {"mcp_breaker": "open", "rates_breaker": "closed"}


def test_unreachable_http_backend_is_503_then_breaker_open(served: Served) -> None:
    assert served.get("api/price/apple", currency="USD")[0] == 200
    served.backend_down.set()  # the rates service now drops every connection

    status, body, _ = served.get("api/price/apple", currency="USD")
    assert status == 503
    assert body == {
        "error": "service unavailable",
        "reason": "unavailable",
        "detail": "ConnectionLostError",
    }
    # A GET is retried (2 attempts per call here), and every failed attempt counts on the
    # breaker: it opens within THRESHOLD calls, and then the app answers at once.
    for _ in range(THRESHOLD):
        status, body, _ = served.get("api/price/apple", currency="USD")
        assert status == 503
        if body["reason"] == "circuit_open":
            break
    assert (status, body["reason"], body["service"]) == (503, "circuit_open", "rates")
    before = served.backend.count("GET", "/rates/USD")
    assert served.get("api/price/apple", currency="USD")[1]["reason"] == "circuit_open"
    assert served.backend.count("GET", "/rates/USD") == before  # nothing was sent
    # The MCP side is unaffected: one breaker per client.
    assert served.get("api/add", a=2, b=3)[1]["sum"] == 5
    assert served.get("healthz")[1] == {"mcp_breaker": "closed", "rates_breaker": "open"}


def test_close_stops_the_server_process_and_is_idempotent(served: Served) -> None:
    assert served.get("api/add", a=1, b=1)[0] == 200
    pid = served.clients.mcp.pid
    assert pid is not None
    served.clients.close()
    served.clients.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone (close waits for the process to exit and reaps it)
