"""HTTPClient basics: timeouts, safe retries, a breaker, metrics.

Run against your own service:   python examples/http_basic.py https://api.example.com
Run on a bundled local server:  python examples/http_basic.py

With no URL it starts a small demo server on 127.0.0.1 (an ephemeral port) whose
``/flaky`` endpoint fails once with 503 + Retry-After before answering, so you can watch a
safe retry happen, and whose ``/orders`` endpoint shows that a POST is never retried.
"""

from __future__ import annotations

import itertools
import logging
import sys

from syncclients import BreakerPolicy, HTTPClient, HTTPStatusError, RetryPolicy
from syncclients.testing import LocalHTTPServer, Reply


def demo_server() -> LocalHTTPServer:
    server = LocalHTTPServer()
    flaky = itertools.count()
    server.routes[("GET", "/health")] = lambda req: Reply(200, {"status": "ok"})
    server.routes[("GET", "/items")] = lambda req: Reply(200, [{"id": 1}, {"id": 2}])
    server.routes[("GET", "/flaky")] = lambda req: (
        Reply(503, "busy", headers={"Retry-After": "0"})
        if next(flaky) == 0
        else Reply(200, {"ok": True})
    )
    server.routes[("POST", "/orders")] = lambda req: Reply(503, {"error": "try later"})
    return server.start()


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    server = None if len(argv) > 1 else demo_server()
    base_url = argv[1] if len(argv) > 1 else server.url  # type: ignore[union-attr]
    try:
        with HTTPClient(
            base_url,
            timeout=(2.0, 5.0),  # connect, read (seconds)
            retry=RetryPolicy(max_attempts=3, initial_delay_s=0.05, deadline_s=10.0),
            breaker=BreakerPolicy(failure_threshold=5, recovery_timeout_s=30.0),
        ) as client:
            print("health:", client.health_check("/health"))
            if server is None:
                return 0
            print("GET /items ->", client.get("/items"))
            print("GET /flaky ->", client.get("/flaky"), "(after one retried 503)")
            try:
                client.post("/orders", json={"sku": "X-1"})
            except HTTPStatusError as exc:
                print(f"POST /orders -> {exc.status_code}, not retried (POST is not idempotent)")
            m = client.metrics()
            print(
                f"metrics: calls={m.calls} attempts={m.attempts} retries={m.retries} "
                f"errors={m.errors} breaker={m.breaker.state if m.breaker else None}"
            )
            assert server.count("POST", "/orders") == 1
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
