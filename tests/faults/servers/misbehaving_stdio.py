"""A scripted MCP stdio server (no SDK: starts fast) whose tools misbehave on request.

Handshake era only (``server/discover`` answers -32601). Tools:

- ``echo {text}``: answers at once.
- ``slow {ms}``: answers after ``ms`` milliseconds, on its own thread (annotated
  ``idempotentHint``, so clients may retry it).
- ``garbage``: writes a non-JSON line, a JSON line that is not JSON-RPC, and a valid-JSON
  response with a malformed result for the same id (all ignored by a client), then answers.
- ``unknown_id``: answers id ``"no-such-id"`` and an error with id 999999 first, then the
  real answer.
- ``bad_result {}``: answers only with a malformed response (result is a list): the caller
  gets nothing it can use, so it must time out.
- ``oversized {bytes}``: writes one line of ``bytes`` bytes, then answers.
- ``die {code}``: exits at once with ``code``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

_lock = threading.Lock()
TOOLS = [
    {"name": "echo", "inputSchema": {"type": "object"}},
    {"name": "slow", "inputSchema": {"type": "object"}, "annotations": {"idempotentHint": True}},
    {"name": "garbage", "inputSchema": {"type": "object"}},
    {"name": "unknown_id", "inputSchema": {"type": "object"}},
    {"name": "bad_result", "inputSchema": {"type": "object"}},
    {"name": "oversized", "inputSchema": {"type": "object"}},
    {"name": "die", "inputSchema": {"type": "object"}},
]


def write(obj: object) -> None:
    raw(json.dumps(obj))


def raw(line: str) -> None:
    with _lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def result(rid: object, text: str) -> None:
    write({"jsonrpc": "2.0", "id": rid, "result": {"content": [{"type": "text", "text": text}]}})


def call(rid: object, name: str, args: dict) -> None:
    if name == "echo":
        result(rid, str(args.get("text", "")))
    elif name == "slow":
        ms = int(args.get("ms", 100))

        def later() -> None:
            time.sleep(ms / 1000)
            result(rid, f"slept {ms}")

        threading.Thread(target=later, daemon=True).start()
    elif name == "garbage":
        raw("this is not json")
        raw('{"hello": "world"}')
        write({"jsonrpc": "2.0", "id": rid, "result": [1, 2, 3]})
        result(rid, "after garbage")
    elif name == "unknown_id":
        result("no-such-id", "stray")
        write({"jsonrpc": "2.0", "id": 999999, "error": {"code": -1, "message": "stray"}})
        result(rid, "after strays")
    elif name == "bad_result":
        write({"jsonrpc": "2.0", "id": rid, "result": "not an object"})
    elif name == "oversized":
        raw("x" * int(args.get("bytes", 1 << 20)))
        result(rid, "after oversized")
    elif name == "die":
        os._exit(int(args.get("code", 3)))
    else:
        write({"jsonrpc": "2.0", "id": rid, "error": {"code": -32602, "message": "no tool"}})


def main() -> None:
    for line in sys.stdin:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        method, rid = msg.get("method"), msg.get("id")
        if rid is None:
            continue  # notifications
        params = msg.get("params") or {}
        if method == "initialize":
            write(
                {
                    "jsonrpc": "2.0",
                    "id": rid,
                    "result": {
                        "protocolVersion": params.get("protocolVersion", "2025-11-25"),
                        "capabilities": {"tools": {}},
                        "serverInfo": {"name": "misbehaving", "version": "0"},
                    },
                }
            )
        elif method == "ping":
            write({"jsonrpc": "2.0", "id": rid, "result": {}})
        elif method == "tools/list":
            write({"jsonrpc": "2.0", "id": rid, "result": {"tools": TOOLS}})
        elif method == "tools/call":
            call(rid, params.get("name", ""), params.get("arguments") or {})
        else:
            write({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "not found"}})


if __name__ == "__main__":
    main()
