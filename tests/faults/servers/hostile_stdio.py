"""A hostile MCP stdio server (no SDK: starts fast), configured by its arguments.

Handshake era only (``server/discover`` answers -32601). Options:

- ``--silent``: never answer anything (a handshake that never completes).
- ``--pid-file PATH``: append this process's pid to PATH at start (counts the starts).
- ``--child-pid-file PATH``: start a child that ignores SIGTERM and sleeps, wait until it
  is ready, then write its pid to PATH (before reading stdin).
- ``--ignore-stdin-close``: when stdin closes, keep running (until a signal ends it);
  default: exit on stdin close, as a well-behaved server does.

Tools: ``echo {text}``; ``stderr_flood {mb}`` writes ``mb`` MiB to stderr without a newline,
then answers; ``stdout_endless`` writes to stdout forever without a newline.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time

CHILD = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "sys.stdout.write('ready\\n'); sys.stdout.flush()\n"
    "time.sleep(600)\n"
)
TOOLS = [
    {"name": "echo", "inputSchema": {"type": "object"}},
    {"name": "stderr_flood", "inputSchema": {"type": "object"}},
    {"name": "stdout_endless", "inputSchema": {"type": "object"}},
]
_lock = threading.Lock()


def write(obj: object) -> None:
    with _lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def result(rid: object, text: str) -> None:
    write({"jsonrpc": "2.0", "id": rid, "result": {"content": [{"type": "text", "text": text}]}})


def call(rid: object, name: str, args: dict) -> None:
    if name == "echo":
        result(rid, str(args.get("text", "")))
    elif name == "stderr_flood":
        chunk = b"e" * (1 << 20)
        for _ in range(int(args.get("mb", 1))):
            sys.stderr.buffer.write(chunk)
        sys.stderr.buffer.flush()
        result(rid, "flooded")
    elif name == "stdout_endless":
        chunk = b"o" * (1 << 16)
        with _lock:
            while True:
                sys.stdout.buffer.write(chunk)  # ends with BrokenPipeError / a signal
    else:
        write({"jsonrpc": "2.0", "id": rid, "error": {"code": -32602, "message": "no tool"}})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--silent", action="store_true")
    parser.add_argument("--pid-file")
    parser.add_argument("--child-pid-file")
    parser.add_argument("--ignore-stdin-close", action="store_true")
    opts = parser.parse_args()
    if opts.pid_file:
        with open(opts.pid_file, "a") as f:
            f.write(f"{os.getpid()}\n")
    if opts.child_pid_file:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE
        )
        assert child.stdout is not None
        child.stdout.readline()  # it ignores SIGTERM from now on
        with open(opts.child_pid_file + ".tmp", "w") as f:
            f.write(str(child.pid))
        os.replace(opts.child_pid_file + ".tmp", opts.child_pid_file)
    for line in sys.stdin:
        if opts.silent:
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        method, rid = msg.get("method"), msg.get("id")
        if rid is None:
            continue
        params = msg.get("params") or {}
        if method == "initialize":
            write(
                {
                    "jsonrpc": "2.0",
                    "id": rid,
                    "result": {
                        "protocolVersion": params.get("protocolVersion", "2025-11-25"),
                        "capabilities": {"tools": {}},
                        "serverInfo": {"name": "hostile", "version": "0"},
                    },
                }
            )
        elif method == "tools/list":
            write({"jsonrpc": "2.0", "id": rid, "result": {"tools": TOOLS}})
        elif method == "tools/call":
            threading.Thread(
                target=call,
                args=(rid, params.get("name", ""), params.get("arguments") or {}),
                daemon=True,
            ).start()
        else:
            write({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "not found"}})
    if opts.ignore_stdin_close:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        while True:
            time.sleep(60)  # until SIGTERM ends it


if __name__ == "__main__":
    main()
