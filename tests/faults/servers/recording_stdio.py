"""A scripted MCP stdio server (no SDK) that records what it ran and floods on request.

Usage: ``recording_stdio.py LOGFILE``. Handshake era only. Every line it appends to LOGFILE
is a JSON object, flushed at once:

- ``{"ran": id, "rid": request_id}`` when ``work`` starts, ``{"done": id}`` when it answers;
- ``{"cancelled": request_id, "reason": ...}`` for each ``notifications/cancelled``;
- ``{"answer": server_request_id, "ok": bool, "code": int | None}`` for each answer to a
  server-to-client request.

Tools:

- ``work {id, ms}``: records ``ran``, answers after ``ms`` milliseconds on its own thread
  unless cancelled first (then it never answers, as the cancellation spec allows).
- ``flood {count, size, tail}``: writes ``count`` ``notifications/message`` of ``size``
  bytes of data each, then one notification per method in ``tail`` (params
  ``{"uri": "file:///r"}``), then answers ``"flooded"``.
- ``ask {count, method}``: sends ``count`` server-to-client requests (``method``, default
  ``roots/list``), then answers ``"asked"`` at once (the answers are logged as they come).
"""

from __future__ import annotations

import json
import sys
import threading
import time

_out_lock = threading.Lock()
_log_lock = threading.Lock()
_cancelled: set[object] = set()
TOOLS = [
    {"name": "work", "inputSchema": {"type": "object"}},
    {"name": "flood", "inputSchema": {"type": "object"}},
    {"name": "ask", "inputSchema": {"type": "object"}},
]


def write(obj: object) -> None:
    line = json.dumps(obj) + "\n"
    with _out_lock:
        sys.stdout.write(line)
        sys.stdout.flush()


def record(log: str, entry: dict[str, object]) -> None:
    with _log_lock, open(log, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")
        f.flush()


def result(rid: object, text: str) -> None:
    write({"jsonrpc": "2.0", "id": rid, "result": {"content": [{"type": "text", "text": text}]}})


def call(log: str, rid: object, name: str, args: dict) -> None:
    if name == "work":
        ident = args.get("id")
        record(log, {"ran": ident, "rid": rid})
        ms = int(args.get("ms", 0))

        def later() -> None:
            end = time.monotonic() + ms / 1000
            while time.monotonic() < end:
                if rid in _cancelled:
                    return
                time.sleep(0.01)
            record(log, {"done": ident})
            result(rid, f"work {ident}")

        threading.Thread(target=later, daemon=True).start()
    elif name == "flood":
        data = "x" * int(args.get("size", 1000))
        for i in range(int(args.get("count", 1))):
            write(
                {
                    "jsonrpc": "2.0",
                    "method": "notifications/message",
                    "params": {"level": "info", "data": {"i": i, "blob": data}},
                }
            )
        for method in args.get("tail", []):
            write({"jsonrpc": "2.0", "method": method, "params": {"uri": "file:///r"}})
        result(rid, "flooded")
    elif name == "ask":
        method = str(args.get("method", "roots/list"))
        for i in range(int(args.get("count", 1))):
            write({"jsonrpc": "2.0", "id": f"s{i}", "method": method, "params": {}})
        result(rid, "asked")
    else:
        write({"jsonrpc": "2.0", "id": rid, "error": {"code": -32602, "message": "no tool"}})


def main() -> None:
    log = sys.argv[1]
    for line in sys.stdin:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        method, rid = msg.get("method"), msg.get("id")
        params = msg.get("params") or {}
        if method is None:  # an answer to one of our requests
            error = msg.get("error")
            record(log, {"answer": rid, "ok": error is None, "code": (error or {}).get("code")})
            continue
        if method == "notifications/cancelled":
            _cancelled.add(params.get("requestId"))
            record(log, {"cancelled": params.get("requestId"), "reason": params.get("reason")})
            continue
        if rid is None:
            continue
        if method == "initialize":
            write(
                {
                    "jsonrpc": "2.0",
                    "id": rid,
                    "result": {
                        "protocolVersion": params.get("protocolVersion", "2025-11-25"),
                        "capabilities": {"tools": {}, "logging": {}},
                        "serverInfo": {"name": "recording", "version": "0"},
                    },
                }
            )
        elif method == "tools/list":
            write({"jsonrpc": "2.0", "id": rid, "result": {"tools": TOOLS}})
        elif method == "tools/call":
            call(log, rid, params.get("name", ""), params.get("arguments") or {})
        elif method in ("ping", "logging/setLevel"):
            write({"jsonrpc": "2.0", "id": rid, "result": {}})
        else:
            write({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "not found"}})


if __name__ == "__main__":
    main()
