"""JSON-RPC batches (MCP 2025-03-26) against separate requests: ``call_tool_batch`` of N calls
on 8 threads, with ``jsonrpc_batch_size`` 0 (one POST per call) and larger.

    python bench/jsonrpc_batch.py --calls 400 --delay-ms 0 5

The server is a scripted 2025-03-26 Streamable HTTP server on 127.0.0.1
(``syncclients.testing.LocalHTTPServer``, JSON answers): it answers each POST after
``delay-ms``, however many calls it carries (calls of a batch are handled in parallel, as an
async server would). Prints wall time, calls per second, POSTs and client CPU per call. Not a
test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from typing import Any

from syncclients import MCPClient, RetryPolicy
from syncclients.testing import LocalHTTPServer, Reply, RequestInfo


class BatchServer:
    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.posts = 0
        self.lock = threading.Lock()
        self.http = LocalHTTPServer()
        self.http.routes[("POST", "/mcp")] = self.handle
        self.http.routes[("GET", "/mcp")] = lambda _r: Reply(405)
        self.http.routes[("DELETE", "/mcp")] = lambda _r: Reply(200)

    @staticmethod
    def answer(msg: dict[str, Any]) -> dict[str, Any] | None:
        if "id" not in msg:
            return None
        method = msg["method"]
        if method == "initialize":
            result: dict[str, Any] = {
                "protocolVersion": "2025-03-26",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "bench", "version": "1"},
            }
        elif method == "tools/call":
            result = {"content": [{"type": "text", "text": "ok"}]}
        else:
            result = {"tools": []} if method == "tools/list" else {}
        return {"jsonrpc": "2.0", "id": msg["id"], "result": result}

    def handle(self, req: RequestInfo) -> Reply:
        body = req.json()
        batch = body if isinstance(body, list) else [body]
        answers = [a for a in map(self.answer, batch) if a is not None]
        if not answers:
            return Reply(202)
        calls = any(m.get("method") == "tools/call" for m in batch)
        if calls:
            with self.lock:
                self.posts += 1
        payload = answers if isinstance(body, list) else answers[0]
        headers = {"Content-Type": "application/json", "Mcp-Session-Id": "bench"}
        return Reply(200, json.dumps(payload), headers, delay_s=self.delay_s if calls else 0.0)


def run(calls: int, delay_ms: float, size: int) -> tuple[float, int, float]:
    server = BatchServer(delay_ms / 1000)
    server.http.start()
    try:
        with MCPClient.http(
            server.http.url + "/mcp",
            era="legacy",
            jsonrpc_batch_size=size,
            retry=RetryPolicy(max_attempts=1),
            hooks=(),
        ) as client:
            client.call_tool_batch([("echo", {})] * 8, max_workers=8)  # warm-up
            server.posts = 0
            cpu, wall = time.process_time(), time.perf_counter()
            outcomes = client.call_tool_batch(
                [("echo", {"i": i}) for i in range(calls)], max_workers=8
            )
            wall = time.perf_counter() - wall
            cpu = time.process_time() - cpu
            assert all(o.ok for o in outcomes)
        return wall, server.posts, cpu / calls
    finally:
        server.http.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--delay-ms", type=float, nargs="+", default=[0.0, 5.0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 4, 8, 32])
    args = parser.parse_args()
    print("| server delay per POST | jsonrpc_batch_size | wall s | calls/s | POSTs | CPU ms/call |")
    print("|---|---|---|---|---|---|")
    for delay in args.delay_ms:
        for size in args.sizes:
            wall, posts, cpu = run(args.calls, delay, size)
            print(
                f"| {delay:g} ms | {size} | {wall:.2f} | {args.calls / wall:.0f} | {posts} | "
                f"{cpu * 1000:.2f} |"
            )


if __name__ == "__main__":
    main()
