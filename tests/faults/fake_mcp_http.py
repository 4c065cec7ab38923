"""A scripted Streamable HTTP MCP server (handshake era) on LocalHTTPServer, for faults the
official SDK server cannot be made to produce: truncated and malformed SSE, invalid JSON,
answers with unknown ids, oversized bodies and events, and a session that expires on demand.

Tools (``tools/call`` by name):

- ``echo`` / ``echo_idem`` (``idempotentHint``): an SSE answer with the text.
- ``json``: an ``application/json`` answer.
- ``truncated_sse``: an SSE body that ends inside the final event.
- ``malformed_sse``: an event whose data is not JSON.
- ``invalid_json``: an ``application/json`` body that is not JSON.
- ``unknown_id``: an SSE answer to another id, an error for an unknown id, then the real
  answer. (An error with a null id on a request's own stream is that request's error.)
- ``oversized_json {bytes}``: a JSON answer of about ``bytes`` bytes.
- ``oversized_event {bytes}``: an SSE event of about ``bytes`` bytes.
- ``slow {ms}``: answers after ``ms`` milliseconds.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from syncclients.testing import LocalHTTPServer, Reply
from syncclients.testing.http_server import RequestInfo

TOOLS = [
    {"name": name, "inputSchema": {"type": "object"}}
    for name in (
        "echo",
        "json",
        "truncated_sse",
        "malformed_sse",
        "invalid_json",
        "unknown_id",
        "oversized_json",
        "oversized_event",
        "slow",
    )
] + [
    {
        "name": "echo_idem",
        "inputSchema": {"type": "object"},
        "annotations": {"idempotentHint": True},
    }
]


def _sse(*messages: object) -> bytes:
    return b"".join(
        b"event: message\r\ndata: " + json.dumps(m).encode() + b"\r\n\r\n" for m in messages
    )


def _result(rid: Any, text: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "result": {"content": [{"type": "text", "text": text}]}}


class FakeMCPServer:
    """Start with ``with FakeMCPServer() as s:``; ``s.url`` is the MCP endpoint."""

    def __init__(self) -> None:
        self.http = LocalHTTPServer()
        self.http.routes[("POST", "/mcp")] = self._post
        self.http.routes[("GET", "/mcp")] = lambda _r: Reply(405, b"")
        self.http.routes[("DELETE", "/mcp")] = lambda _r: Reply(200, b"")
        self._lock = threading.Lock()
        self.session_id: str | None = None
        self.initializes = 0
        self.calls = 0
        self.expired_answers = 0
        self.expire_after_calls: int | None = None

    @property
    def url(self) -> str:
        return self.http.url + "/mcp"

    def __enter__(self) -> FakeMCPServer:
        self.http.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.http.stop()

    def expire(self) -> None:
        """Forget the current session: later requests carrying it get 404."""
        with self._lock:
            self.session_id = None

    def _post(self, req: RequestInfo) -> Reply:
        msg = req.json()
        method, rid = msg.get("method"), msg.get("id")
        sid = next((v for k, v in req.headers.items() if k.lower() == "mcp-session-id"), None)
        if method == "initialize":
            with self._lock:
                self.initializes += 1
                self.session_id = uuid.uuid4().hex
                sid = self.session_id
            result = {
                "protocolVersion": msg["params"]["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "fake", "version": "0"},
            }
            return Reply(200, {"jsonrpc": "2.0", "id": rid, "result": result},
                         headers={"Mcp-Session-Id": sid})  # fmt: skip
        with self._lock:
            if sid is None or sid != self.session_id:
                self.expired_answers += 1
                return Reply(404, {"jsonrpc": "2.0", "id": None,
                                   "error": {"code": -32600, "message": "Session not found"}})  # fmt: skip
        if rid is None:
            return Reply(202, b"")
        if method == "tools/list":
            return Reply(200, {"jsonrpc": "2.0", "id": rid, "result": {"tools": TOOLS}})
        if method != "tools/call":
            return Reply(200, {"jsonrpc": "2.0", "id": rid, "result": {}})
        with self._lock:
            self.calls += 1
            if self.expire_after_calls is not None and self.calls == self.expire_after_calls:
                self.session_id = None  # this very call is answered; the next ones are not
        name = msg["params"]["name"]
        args = msg["params"].get("arguments") or {}
        sse = {"Content-Type": "text/event-stream"}
        js = {"Content-Type": "application/json"}
        if name in ("echo", "echo_idem"):
            return Reply(200, _sse(_result(rid, str(args.get("text", "")))), headers=sse)
        if name == "json":
            return Reply(200, json.dumps(_result(rid, "json")).encode(), headers=js)
        if name == "truncated_sse":
            body = _sse(_result(rid, "never complete"))
            return Reply(200, body[: len(body) // 2], headers=sse)
        if name == "malformed_sse":
            return Reply(200, b"event: message\r\ndata: {not json\r\n\r\n", headers=sse)
        if name == "invalid_json":
            return Reply(200, b'{"jsonrpc": "2.0", "id": ', headers=js)
        if name == "unknown_id":
            stray_error = {"jsonrpc": "2.0", "id": 999999, "error": {"code": -1, "message": "?"}}
            body = _sse(_result(424242, "stray"), stray_error, _result(rid, "after strays"))
            return Reply(200, body, headers=sse)
        if name == "oversized_json":
            text = "x" * int(args.get("bytes", 1 << 20))
            return Reply(200, json.dumps(_result(rid, text)).encode(), headers=js)
        if name == "oversized_event":
            text = "x" * int(args.get("bytes", 1 << 20))
            return Reply(200, _sse(_result(rid, text)), headers=sse)
        if name == "slow":
            return Reply(200, _sse(_result(rid, "late")), headers=sse,
                         delay_s=int(args.get("ms", 1000)) / 1000)  # fmt: skip
        return Reply(200, {"jsonrpc": "2.0", "id": rid, "error": {"code": -32602, "message": "?"}})
