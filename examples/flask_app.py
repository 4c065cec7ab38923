"""Flask + syncclients: clients created once per app, shared by every request thread.

Run it with no arguments to watch it work::

    python examples/flask_app.py

It starts the bundled demo MCP server (``python -m syncclients.demo.server``, over stdio),
a small price-rate backend on 127.0.0.1, and this app under a threaded WSGI server on
127.0.0.1 (an ephemeral port); sends concurrent requests to the app; kills the MCP server
to show the 503 answers (first "server unavailable", then "circuit open"); and stops.

Serve it yourself (any WSGI server works: the clients are thread-safe)::

    RATES_URL=https://rates.example.com flask --app "examples/flask_app.py:create_app()" run

Configuration (``create_app(config)`` or environment variables, as in any Flask app):

- ``MCP_COMMAND``: the MCP server command (a list); default the bundled demo server.
- ``MCP_CONFIG`` + ``MCP_SERVER``: or a server of an ``mcpServers`` JSON file instead.
- ``RATES_URL``: the base URL of the HTTP backend that answers ``GET /rates/<currency>``.

The pattern:

- One :class:`AppClients` per Flask app, built in :func:`create_app` and stored in
  ``app.extensions``: one ``MCPClient`` (one server process, one breaker) and one
  ``HTTPClient`` (one connection pool, one breaker). Every request thread uses the same two
  objects; neither is created per request.
- The clients connect lazily, so building the app starts nothing.
- Closed at shutdown: Flask has no shutdown hook, so :func:`create_app` registers
  ``AppClients.close`` with :mod:`atexit` (and tests call it directly).
- Failures of the services become JSON errors: an open breaker or a dead or unreachable
  server is a 503 (with ``Retry-After`` when the breaker says when it will try again), a
  bad answer from upstream is a 502, a failing tool is a 422 (an unknown item a 404).
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import os
import signal
import sys
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from syncclients import (
    BreakerPolicy,
    CircuitOpenError,
    HTTPClient,
    HTTPStatusError,
    MCPClient,
    MCPError,
    RetryPolicy,
    SyncClientsError,
    Timeouts,
    TransportError,
)
from syncclients.testing import LocalHTTPServer, Reply

#: The bundled demo MCP server, started over stdio with this interpreter.
DEMO_SERVER = [sys.executable, "-m", "syncclients.demo.server"]


@dataclass
class AppClients:
    """The clients of one app: created once, shared by all request threads, closed once."""

    mcp: MCPClient
    rates: HTTPClient

    def close(self) -> None:
        """Close both clients (stops the MCP server process). Idempotent."""
        atexit.unregister(self.close)
        self.mcp.close()
        self.rates.close()


def build_clients(config: Mapping[str, Any]) -> AppClients:
    """Build the app's clients from its configuration (nothing connects yet)."""
    options: dict[str, Any] = {
        "timeouts": Timeouts(connect_s=30.0, read_s=10.0),  # start+handshake, each answer
        "retry": RetryPolicy(max_attempts=2, initial_delay_s=0.05, deadline_s=20.0),
        "breaker": BreakerPolicy(
            failure_threshold=config.get("MCP_BREAKER_THRESHOLD", 3),
            recovery_timeout_s=config.get("MCP_BREAKER_RECOVERY_S", 30.0),
        ),
        # A crashed server is started again on the next call (safe calls are retried then).
        "restart_on_exit": config.get("MCP_RESTART_ON_EXIT", True),
    }
    if config.get("MCP_CONFIG") and config.get("MCP_SERVER"):
        mcp = MCPClient.from_config(config["MCP_SERVER"], config["MCP_CONFIG"], **options)
    else:
        mcp = MCPClient.stdio(config.get("MCP_COMMAND") or DEMO_SERVER, name="tools", **options)
    rates = HTTPClient(
        config["RATES_URL"],
        timeout=(2.0, 5.0),
        retry=RetryPolicy(max_attempts=2, initial_delay_s=0.05, deadline_s=5.0),
        breaker=BreakerPolicy(failure_threshold=3, recovery_timeout_s=30.0),
        name="rates",
    )
    return AppClients(mcp, rates)


def clients() -> AppClients:
    """The current app's clients (call inside a request)."""
    from flask import current_app

    found: AppClients = current_app.extensions["syncclients"]
    return found


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The Flask app factory.

    Args:
        config: Flask config keys (see the module docstring); None: from the environment
            (``MCP_COMMAND`` as JSON, ``MCP_CONFIG``, ``MCP_SERVER``, ``RATES_URL``).
    """
    app = Flask(__name__)
    if config is None:
        config = {
            key: os.environ[key]
            for key in ("MCP_CONFIG", "MCP_SERVER", "RATES_URL")
            if key in os.environ
        }
        if "MCP_COMMAND" in os.environ:
            config["MCP_COMMAND"] = json.loads(os.environ["MCP_COMMAND"])
    app.config.update(config)
    built = build_clients(app.config)
    app.extensions["syncclients"] = built
    atexit.register(built.close)  # Flask has no shutdown hook; close when the process exits

    @app.get("/api/tools")
    def list_tools() -> Any:
        tools = clients().mcp.list_tools()
        return {"tools": [t.name for t in tools]}

    @app.get("/api/add")
    def add() -> Any:
        a = request.args.get("a", type=int)
        b = request.args.get("b", type=int)
        if a is None or b is None:
            return jsonify(error="a and b must be integers"), 400
        mcp = clients().mcp
        result = mcp.call_tool("add", {"a": a, "b": b})
        if result.is_error:
            return jsonify(error="tool failed", detail=result.text), 422
        # server_pid shows that every request talks to the same, shared server process.
        return {"sum": (result.structured_content or {}).get("result"), "server_pid": mcp.pid}

    @app.get("/api/price/<item>")
    def price(item: str) -> Any:
        currency = request.args.get("currency", "EUR").upper()
        found = clients().mcp.call_tool("lookup", {"item": item})
        if found.is_error:
            return jsonify(error="unknown item", detail=found.text), 404
        rate = clients().rates.get(f"rates/{currency}")["rate"]
        unit_price = found.structured_content["price"]
        return {"item": item, "currency": currency, "price": round(unit_price * rate, 2)}

    @app.get("/healthz")
    def health() -> Any:
        mcp_breaker = clients().mcp.resilience.breaker
        rates_breaker = clients().rates.breaker
        return {
            "mcp_breaker": mcp_breaker.state if mcp_breaker else None,
            "rates_breaker": rates_breaker.state if rates_breaker else None,
        }

    @app.errorhandler(CircuitOpenError)
    def circuit_open(exc: CircuitOpenError) -> Any:
        retry_after = max(1, math.ceil(exc.remaining_s))
        body = jsonify(
            error="service temporarily unavailable",
            reason="circuit_open",
            service=exc.target or exc.name,
            retry_after_s=retry_after,
        )
        return body, 503, {"Retry-After": str(retry_after)}

    @app.errorhandler(TransportError)
    def unavailable(exc: TransportError) -> Any:
        # Dead server process, refused connection, timeout: the service is down, not us.
        # The full error (command, exit code, stderr tail) goes to the log, not to the caller.
        app.logger.warning("upstream unavailable: %s", exc)
        return jsonify(
            error="service unavailable", reason="unavailable", detail=type(exc).__name__
        ), 503

    @app.errorhandler(HTTPStatusError)
    def upstream_status(exc: HTTPStatusError) -> Any:
        return jsonify(
            error="upstream error", reason="upstream_status", status=exc.status_code
        ), 502

    @app.errorhandler(MCPError)
    def mcp_error(exc: MCPError) -> Any:
        return jsonify(error="upstream error", reason="mcp_error", code=exc.code), 502

    @app.errorhandler(SyncClientsError)
    def other_failure(exc: SyncClientsError) -> Any:  # ProtocolError, ...: still not our bug
        return jsonify(error="upstream error", reason=type(exc).__name__), 502

    return app


def rates_backend() -> LocalHTTPServer:
    """A stand-in for a real HTTP service: ``GET /rates/<currency>``."""
    server = LocalHTTPServer()
    for currency, rate in {"EUR": 1.0, "USD": 1.08, "GBP": 0.86}.items():
        server.routes[("GET", f"/rates/{currency}")] = lambda req, r=rate: Reply(200, {"rate": r})
    return server.start()


class ServerThread:
    """Serve a WSGI app on 127.0.0.1 (an ephemeral port) with a thread per request."""

    def __init__(self, app: Flask) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log
    backend = rates_backend()
    app = create_app({"RATES_URL": backend.url, "MCP_RESTART_ON_EXIT": False})
    app_clients: AppClients = app.extensions["syncclients"]
    try:
        # The "browser": an HTTPClient too (thread-safe), without retries or a breaker so
        # that every answer of the app is seen as it is.
        with (
            ServerThread(app) as served,
            HTTPClient(
                served.url, timeout=(2, 30), retry=RetryPolicy.never(), breaker=None
            ) as browser,
        ):
            print(f"app serving on {served.url}")
            print("GET /api/tools ->", browser.get("api/tools"))

            def one(i: int) -> dict[str, Any]:
                answer: dict[str, Any] = browser.get("api/add", params={"a": i, "b": 100})
                return answer

            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(one, range(16)))
            pids = {a["server_pid"] for a in answers}
            print(f"16 concurrent requests -> sums {[a['sum'] for a in answers]}")
            print(f"  all served by one shared MCP server process: {pids}")
            print(
                "GET /api/price/cheese?currency=USD ->",
                browser.get("api/price/cheese?currency=USD"),
            )

            pid = app_clients.mcp.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)  # the MCP server dies
            print(f"killed the MCP server (pid {pid})")
            for _ in range(4):
                try:
                    browser.get("api/add", params={"a": 1, "b": 2})
                except HTTPStatusError as exc:
                    body = exc.response.json() if exc.response is not None else None
                    print(f"GET /api/add -> {exc.status_code} {body}")
            print("GET /healthz ->", browser.get("healthz"))
    finally:
        app_clients.close()
        backend.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
