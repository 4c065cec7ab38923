"""A batch script: read tool calls from JSONL, run them concurrently, write results as JSONL.

Usage::

    python examples/batch_script.py --input calls.jsonl --output results.jsonl \\
        [--config mcp.json --server NAME] [--workers 8] [--timeout 30] [--deadline 600]

Each input line is one call: ``{"tool": "add", "arguments": {"a": 1, "b": 2}}``, with an
optional ``"id"`` copied to its result (default: the line number). Blank lines are skipped.
Each output line is one result, in input order::

    {"id": "sum-1", "tool": "add", "status": "ok", "result": {"result": 3},
     "error": null, "attempts": 1, "duration_s": 0.01}

``result`` is the tool's structured content, else its text (null when the call failed).

``status`` is ``ok``, ``tool_error`` (the tool answered ``isError``), ``error`` (the call
failed: dead server, timeout, open breaker, ...), ``deadline``, ``interrupted`` (running at
Ctrl-C: may have run) or ``cancelled`` (never sent).

Exit code: 0 when every call succeeded, 1 when some failed (or the server could not be
started), 2 on usage errors (bad arguments, unreadable or malformed input, bad config).

Without ``--config`` it starts the bundled demo MCP server (``python -m
syncclients.demo.server``) over stdio. Without ``--input`` it runs a small built-in sample
batch; without ``--output`` results go to stdout (and the summary to stderr). So with no
arguments at all it shows itself: ``python examples/batch_script.py``.

The client's lifecycle in a script: create it once, use it for the whole batch (its calls
run on a thread pool and share one server process, one breaker, one retry budget), and
close it on the way out (``with``), including on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from syncclients import (
    BatchInterrupted,
    BatchOutcome,
    BatchProgress,
    MCPClient,
    RetryPolicy,
    SyncClientsError,
    Timeouts,
    UsageError,
)
from syncclients.mcp import CallToolResult

EXIT_OK, EXIT_FAILURES, EXIT_USAGE = 0, 1, 2

DEMO_SERVER = [sys.executable, "-m", "syncclients.demo.server"]

#: The built-in sample batch (used when no --input is given): all succeed on the demo server.
SAMPLE = [
    {"id": "sum-1", "tool": "add", "arguments": {"a": 1, "b": 2}},
    {"id": "sum-2", "tool": "add", "arguments": {"a": 40, "b": 2}},
    {"id": "echo", "tool": "echo", "arguments": {"text": "hello from a batch"}},
    *({"id": f"lookup-{item}", "tool": "lookup", "arguments": {"item": item}}
      for item in ("apple", "bread", "cheese", "dates", "eggs")),
    {"id": "slow", "tool": "slow", "arguments": {"ms": 200}},
    {"id": "divide", "tool": "divide", "arguments": {"a": 22, "b": 7}},
]  # fmt: skip


class InputError(Exception):
    """The input file cannot be used (exit code 2)."""


def read_calls(lines: Iterator[str], source: str) -> list[dict[str, Any]]:
    """Parse and check the JSONL input; every problem names its line."""
    calls: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise InputError(f"{source}:{number}: not JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise InputError(f"{source}:{number}: expected a JSON object")
        tool, arguments = obj.get("tool"), obj.get("arguments", {})
        if not isinstance(tool, str) or not tool:
            raise InputError(f"{source}:{number}: 'tool' must be a non-empty string")
        if not isinstance(arguments, dict):
            raise InputError(f"{source}:{number}: 'arguments' must be an object")
        calls.append({"id": obj.get("id", number), "tool": tool, "arguments": arguments})
    return calls


def result_record(call: dict[str, Any], outcome: BatchOutcome[CallToolResult]) -> dict[str, Any]:
    """One output line."""
    result = outcome.result
    return {
        "id": call["id"],
        "tool": call["tool"],
        "status": outcome.status,  # "tool_error" when the tool answered isError
        "result": _value(result) if result is not None and not result.is_error else None,
        "error": (
            f"{type(outcome.error).__name__}: {outcome.error}"
            if outcome.error is not None
            else (result.text if result is not None and result.is_error else None)
        ),
        "attempts": outcome.attempts,
        "duration_s": round(outcome.duration_s, 4),
    }


def _value(result: CallToolResult) -> Any:
    """A result's JSON value: its structured content, else its text."""
    return result.structured_content if result.structured_content is not None else result.text


def make_client(args: argparse.Namespace) -> MCPClient:
    """One client for the whole batch (connects on first use)."""
    options: dict[str, Any] = {
        "timeouts": Timeouts(connect_s=30.0, read_s=args.timeout),
        "retry": RetryPolicy(max_attempts=3, initial_delay_s=0.1, deadline_s=None),
    }
    if args.config is not None or args.server is not None:
        if args.server is None:
            raise UsageError("--config needs --server NAME (which server of the file to use)")
        return MCPClient.from_config(args.server, args.config, **options)
    return MCPClient.stdio(DEMO_SERVER, name="demo", **options)


def progress_reporter(out: IO[str]) -> Any:
    """A plain progress line for when tqdm is not installed (extra ``progress``)."""

    def report(p: BatchProgress) -> None:
        if p.done == p.total or p.done % max(1, p.total // 10) == 0:
            print(f"progress: {p.done}/{p.total} ({p.failed} failed)", file=out, flush=True)

    return report


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Run MCP tool calls from a JSONL file concurrently; write results as JSONL."
    )
    parser.add_argument("--input", help="calls, one JSON object per line (default: a sample)")
    parser.add_argument("--output", default="-", help="results JSONL (default: stdout)")
    parser.add_argument("--config", help="an mcpServers JSON file (default: the demo server)")
    parser.add_argument("--server", help="the server's name in --config")
    parser.add_argument("--workers", type=int, default=8, help="calls at once (default 8)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per attempt")
    parser.add_argument("--deadline", type=float, help="seconds for the whole batch")
    parser.add_argument("--fail-fast", action="store_true", help="stop at the first failure")
    parser.add_argument("--no-progress", action="store_true", help="no progress display")
    args = parser.parse_args(argv)  # exits 2 on bad arguments
    if args.workers < 1:
        parser.error("--workers must be >= 1")
    if args.timeout <= 0 or (args.deadline is not None and args.deadline <= 0):
        parser.error("--timeout and --deadline must be > 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.input is None:
            calls = [dict(c) for c in SAMPLE]
        else:
            with open(args.input, encoding="utf-8") as file:
                calls = read_calls(iter(file), args.input)
        client = make_client(args)
    except (OSError, InputError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    to_stdout = args.output == "-"
    report = sys.stderr if to_stdout else sys.stdout  # keep JSONL on stdout parseable
    progress: dict[str, Any] = {}
    if not args.no_progress:
        if importlib.util.find_spec("tqdm") is not None:  # the `progress` extra
            progress["progress"] = True  # a tqdm bar on stderr
        else:
            progress["on_progress"] = progress_reporter(sys.stderr)

    try:  # the client is closed on every way out, Ctrl-C included (stops the server)
        try:
            client.connect()  # start the server now: a clear error if it cannot start
        except SyncClientsError as exc:
            print(f"error: cannot start MCP server {client.target!r}: {exc}", file=sys.stderr)
            return EXIT_FAILURES
        pairs = [(c["tool"], c["arguments"]) for c in calls]
        try:
            outcomes = client.call_tool_batch(
                pairs,
                max_workers=args.workers,
                deadline=args.deadline,
                fail_fast=args.fail_fast,
                **progress,
            )
        except BatchInterrupted as exc:
            print(f"interrupted: {exc}", file=sys.stderr)
            outcomes = exc.outcomes  # keep what finished; the rest are "cancelled"
            interrupted = True
        else:
            interrupted = False
    finally:
        client.close()

    records = [result_record(c, o) for c, o in zip(calls, outcomes, strict=True)]
    try:
        with contextlib.ExitStack() as stack:
            out: IO[str] = (
                sys.stdout
                if to_stdout
                else stack.enter_context(Path(args.output).open("w", encoding="utf-8"))
            )
            for record in records:
                out.write(json.dumps(record) + "\n")
    except OSError as exc:
        print(f"error: cannot write {args.output}: {exc}", file=sys.stderr)
        return EXIT_USAGE

    failed = [r for r in records if r["status"] != "ok"]
    by_status: dict[str, int] = {}
    for r in records:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
    print(
        f"{len(records)} calls: {len(records) - len(failed)} ok, {len(failed)} failed "
        f"{dict(sorted(by_status.items()))}" + ("" if to_stdout else f"; results in {args.output}"),
        file=report,
    )
    for r in failed[:10]:
        print(f"  failed: id={r['id']} tool={r['tool']} {r['status']}: {r['error']}", file=report)
    if interrupted:
        return 130
    return EXIT_FAILURES if failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
