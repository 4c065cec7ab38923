"""``syncclients demo``: start the bundled demo server, run a batch of tool calls, summarise.

The job, step by step:

1. start the demo server (:mod:`syncclients.demo.server`) on this machine: over stdio by
   default, or over Streamable HTTP on 127.0.0.1 (an ephemeral port) with ``http=True``;
2. list its tools;
3. run a batch of 100 tool calls on 8 threads with a progress bar on stderr: fast ones,
   slow ones (50-300 ms), cacheable read-only lookups, 4 calls that fail on purpose
   (``divide`` by zero: tool errors) and 3 ``flaky`` calls whose first attempt times out and
   whose retry succeeds;
4. print a summary: successes and failures, p50/p95 latency, retries, breaker state, cache
   hits, and a per-tool table.

Only the public API is used, as any user program would.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
import queue
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import syncclients
from syncclients import MCPClient, RetryPolicy, Timeouts, UsageError
from syncclients.batch import BatchOutcome
from syncclients.mcp import CallToolResult

from . import SERVER_MODULE

__all__ = [
    "EXPECTED_FAILURES",
    "EXPECTED_RETRIES",
    "DemoError",
    "DemoReport",
    "demo_calls",
    "percentile",
    "run_demo",
]

#: Seconds each attempt may wait for a tool result (the flaky tool's first attempt stalls
#: far longer, so it times out after this and is retried).
ATTEMPT_TIMEOUT_S = 1.5
#: Seconds one call may take, all attempts included.
CALL_TIMEOUT_S = 15.0
#: Seconds the whole batch may take.
BATCH_DEADLINE_S = 90.0
#: Seconds to wait for the HTTP server to report its port.
HTTP_START_TIMEOUT_S = 30.0
#: Calls run at once.
MAX_WORKERS = 8
#: Calls designed to fail (``divide`` by zero).
EXPECTED_FAILURES = 4
#: Calls designed to need one retry (``flaky``).
EXPECTED_RETRIES = 3

_INSTALL_HINT = "syncclients demo needs the official MCP SDK: pip install 'syncclients[demo]'"


class DemoError(Exception):
    """The demo could not run (the SDK is missing, the server did not start).

    Attributes:
        exit_code: the process exit code to use (2).
    """

    exit_code = 2


def demo_calls() -> list[tuple[str, dict[str, Any]]]:
    """The demo batch: 100 ``(tool, arguments)`` pairs in a fixed, shuffled order.

    Returns:
        30 ``add``, 16 ``echo``, 25 ``slow`` (50-300 ms), 20 ``lookup`` over 5 items (so 15
        can be cache hits), 6 ``divide`` of which 4 divide by zero, 3 ``flaky``.
    """
    items = ["apple", "bread", "cheese", "dates", "eggs"]
    calls: list[tuple[str, dict[str, Any]]] = []
    calls += [("add", {"a": i, "b": 2 * i}) for i in range(30)]
    calls += [("echo", {"text": f"hello #{i}"}) for i in range(16)]
    calls += [("slow", {"ms": 50 + (i * 37) % 251}) for i in range(25)]
    calls += [("lookup", {"item": items[i % len(items)]}) for i in range(20)]
    calls += [("divide", {"a": 10 * i, "b": 0 if i < EXPECTED_FAILURES else i}) for i in range(6)]
    random.Random(4).shuffle(calls)  # noqa: S311 - a fixed demo order, not cryptography
    # The flaky calls go first: their first attempts stall while the rest runs.
    flaky = [("flaky", {"key": f"job-{i}"}) for i in range(EXPECTED_RETRIES)]
    return flaky + calls


def percentile(values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile of ``values``.

    Args:
        values: the samples (any order).
        pct: the percentile, 0-100.

    Returns:
        The smallest sample with at least ``pct`` % of samples at or below it; 0.0 when
        there are no samples.
    """
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True, slots=True)
class ToolRow:
    """Per-tool figures of a demo run (latencies in seconds)."""

    tool: str
    calls: int
    ok: int
    failed: int
    retries: int
    p50_s: float
    p95_s: float


@dataclass(frozen=True, slots=True)
class DemoReport:
    """What a demo run measured.

    Attributes:
        transport: ``"stdio"`` or ``"http"``.
        target: the command or URL of the server.
        server: the server's name and version.
        protocol_version: the negotiated MCP version.
        tools: the server's tool names.
        calls: calls made.
        succeeded: calls that returned a non-error result.
        failed: calls that raised or returned ``isError``.
        failures: ``"tool: message"`` per failed call.
        retries: extra attempts made (attempts beyond the first, summed).
        retried_calls: calls that needed more than one attempt.
        recovered: retried calls that succeeded.
        p50_s, p95_s, max_s: call latency percentiles, in seconds (attempts included).
        wall_s: the batch's wall-clock time, in seconds.
        breaker_state: the server's breaker state (``closed``, ``open``, ``half-open``) or
            ``"none"``.
        cache_hits, cache_misses: the client cache's counters (tool results and lists).
        per_tool: one :class:`ToolRow` per tool, in first-call order.
    """

    transport: str
    target: str
    server: str
    protocol_version: str
    tools: tuple[str, ...]
    calls: int
    succeeded: int
    failed: int
    failures: tuple[str, ...]
    retries: int
    retried_calls: int
    recovered: int
    p50_s: float
    p95_s: float
    max_s: float
    wall_s: float
    breaker_state: str
    cache_hits: int
    cache_misses: int
    per_tool: tuple[ToolRow, ...]

    @property
    def as_designed(self) -> bool:
        """True when exactly the designed calls failed and every flaky call recovered."""
        return (
            self.calls == len(demo_calls())
            and self.failed == EXPECTED_FAILURES
            and all(f.startswith("divide:") for f in self.failures)
            and self.recovered >= EXPECTED_RETRIES
        )

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (latencies in seconds)."""
        data: dict[str, Any] = {
            name: getattr(self, name) for name in self.__dataclass_fields__ if name != "per_tool"
        }
        data["tools"] = list(self.tools)
        data["failures"] = list(self.failures)
        data["per_tool"] = [
            {name: getattr(row, name) for name in row.__dataclass_fields__} for row in self.per_tool
        ]
        data["as_designed"] = self.as_designed
        return data


def _failure_text(outcome: BatchOutcome[CallToolResult]) -> str | None:
    """None for a successful call, else one line: the tool's error text (``isError``,
    status ``"tool_error"``) or ``"Type: message"`` of the error."""
    if outcome.ok:
        return None
    if outcome.status == "tool_error" and outcome.result is not None:
        return outcome.result.text or "tool error"
    error = outcome.error
    return f"{type(error).__name__}: {error}"


def summarise(
    outcomes: Sequence[BatchOutcome[CallToolResult]],
    calls: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    client: MCPClient,
    transport: str,
    target: str,
    tools: Sequence[str],
    wall_s: float,
) -> DemoReport:
    """Reduce a demo batch to a :class:`DemoReport`.

    Args:
        outcomes: the batch's outcomes, in input order.
        calls: the batch's inputs.
        client: the client that ran it (for the breaker and the cache counters).
        transport: ``"stdio"`` or ``"http"``.
        target: the server command or URL.
        tools: the listed tool names.
        wall_s: the batch's wall-clock time, in seconds.

    Returns:
        The report.
    """
    failures: list[str] = []
    durations: list[float] = []
    by_tool: dict[str, list[tuple[BatchOutcome[CallToolResult], str | None]]] = {}
    for outcome, (tool, _args) in zip(outcomes, calls, strict=True):
        failure = _failure_text(outcome)
        if failure is not None:
            failures.append(f"{tool}: {failure}")
        durations.append(outcome.duration_s)
        by_tool.setdefault(tool, []).append((outcome, failure))
    rows = []
    for tool, entries in by_tool.items():
        tool_durations = [o.duration_s for o, _ in entries]
        rows.append(
            ToolRow(
                tool=tool,
                calls=len(entries),
                ok=sum(1 for _, f in entries if f is None),
                failed=sum(1 for _, f in entries if f is not None),
                retries=sum(max(0, o.attempts - 1) for o, _ in entries),
                p50_s=percentile(tool_durations, 50),
                p95_s=percentile(tool_durations, 95),
            )
        )
    retried = [o for o in outcomes if o.attempts > 1]
    breaker = client.resilience.breaker
    stats = client.cache_stats()
    return DemoReport(
        transport=transport,
        target=target,
        server=f"{client.server_info.name} {client.server_info.version}",
        protocol_version=client.protocol_version,
        tools=tuple(tools),
        calls=len(outcomes),
        succeeded=len(outcomes) - len(failures),
        failed=len(failures),
        failures=tuple(failures),
        retries=sum(max(0, o.attempts - 1) for o in outcomes),
        retried_calls=len(retried),
        recovered=sum(1 for o in retried if _failure_text(o) is None),
        p50_s=percentile(durations, 50),
        p95_s=percentile(durations, 95),
        max_s=max(durations, default=0.0),
        wall_s=wall_s,
        breaker_state="none" if breaker is None else str(breaker.state),
        cache_hits=stats.hits,
        cache_misses=stats.misses,
        per_tool=tuple(rows),
    )


def format_report(report: DemoReport) -> str:
    """The human-readable summary of a demo run."""

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.0f} ms"

    kinds: dict[str, int] = {}
    for failure in report.failures:
        kinds[failure] = kinds.get(failure, 0) + 1
    lines = [
        "",
        f"Summary: {report.calls} calls to {report.server} over {report.transport} "
        f"(MCP {report.protocol_version}) in {report.wall_s:.2f} s "
        f"({report.calls / report.wall_s if report.wall_s else 0:.0f} calls/s, "
        f"{MAX_WORKERS} threads)",
        f"  succeeded      {report.succeeded}",
        f"  failed         {report.failed}"
        + (" (as designed)" if report.as_designed and report.failed else ""),
    ]
    lines += [f"                   {n} x {text}" for text, n in kinds.items()]
    lines += [
        f"  latency        p50 {ms(report.p50_s)}   p95 {ms(report.p95_s)}   "
        f"max {ms(report.max_s)}",
        f"  retries        {report.retries} ({report.retried_calls} calls retried, "
        f"{report.recovered} recovered)",
        f"  breaker        {report.breaker_state}",
        f"  cache          {report.cache_hits} hits, {report.cache_misses} misses "
        "(read-only tool results and lists)",
        "",
    ]
    headers = ("tool", "calls", "ok", "failed", "retries", "p50", "p95")
    rows = [
        (r.tool, str(r.calls), str(r.ok), str(r.failed), str(r.retries), ms(r.p50_s), ms(r.p95_s))
        for r in report.per_tool
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    for row in (headers, *rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  " + "  ".join(cells))
    lines.append("")
    lines.append(
        "Result: as designed (only the divide-by-zero calls failed; every flaky call "
        "succeeded on retry)"
        if report.as_designed
        else "Result: NOT as designed (see the failures above)"
    )
    return "\n".join(lines)


def _server_command() -> tuple[list[str], dict[str, str]]:
    """The command that starts the demo server, and the environment it needs.

    The server gets a minimal environment (see :meth:`MCPClient.stdio`), so the directory
    that holds this package goes on its ``PYTHONPATH``: the server imports the same
    ``syncclients`` as this process, installed or not.
    """
    root = str(Path(syncclients.__file__).resolve().parent.parent)
    return [sys.executable, "-m", SERVER_MODULE], {"PYTHONPATH": root}


@contextlib.contextmanager
def _http_server(timeout_s: float) -> Iterator[str]:
    """Start the demo server over Streamable HTTP on 127.0.0.1; yield its URL; stop it.

    Raises:
        DemoError: it did not report a URL within ``timeout_s`` seconds.
    """
    command, extra_env = _server_command()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (extra_env["PYTHONPATH"], env.get("PYTHONPATH")) if p
    )
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as stderr:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*command, "--http", "--port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            text=True,
            start_new_session=True,
        )
        try:
            lines: queue.Queue[str] = queue.Queue()
            assert proc.stdout is not None
            out = proc.stdout
            threading.Thread(
                target=lambda: lines.put(out.readline()), name="demo-http-port", daemon=True
            ).start()
            try:
                line = lines.get(timeout=timeout_s)
            except queue.Empty:
                line = ""
            if not line.startswith("listening on "):
                stderr.seek(0)
                tail = " | ".join(stderr.read().strip().splitlines()[-3:])
                raise DemoError(
                    f"the demo HTTP server did not start within {timeout_s:g} s"
                    + (f": {tail}" if tail else "")
                )
            yield line.removeprefix("listening on ").strip()
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen[str]) -> None:
    """Stop ``proc`` (by its PID): SIGTERM, wait up to 5 s, then SIGKILL."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    if proc.stdout is not None:
        proc.stdout.close()


def _tqdm_installed() -> bool:
    return importlib.util.find_spec("tqdm") is not None


def run_demo(
    *,
    http: bool = False,
    progress: bool | None = None,
    json_output: bool = False,
    stdout: IO[str] | None = None,
) -> int:
    """Run the demo job and print its summary.

    Args:
        http: serve the demo over Streamable HTTP on 127.0.0.1 instead of stdio.
        progress: show a progress bar on stderr; None: when tqdm is installed.
        json_output: print the report as one JSON object instead of tables.
        stdout: where to print; None: ``sys.stdout``.

    Returns:
        The exit code: 0 when the run went as designed, 1 when other calls failed.

    Raises:
        DemoError: the SDK is not installed or the server did not start (exit code 2).
        SyncClientsError: the server could not be reached (e.g. ConnectError).
        UsageError: ``progress=True`` without tqdm.
    """
    out = stdout or sys.stdout
    if importlib.util.find_spec("mcp") is None:
        raise DemoError(_INSTALL_HINT)
    show_bar = _tqdm_installed() if progress is None else progress
    options: dict[str, Any] = {
        "name": "demo",
        "timeouts": Timeouts(connect_s=30.0, read_s=ATTEMPT_TIMEOUT_S),
        "retry": RetryPolicy(max_attempts=3, initial_delay_s=0.05, deadline_s=None),
        "cache_tool_results": True,
    }
    with contextlib.ExitStack() as stack:
        if http:
            url = stack.enter_context(_http_server(HTTP_START_TIMEOUT_S))
            target = url
            client = MCPClient.http(url, **options)
        else:
            command, env = _server_command()
            target = " ".join(command)
            client = MCPClient.stdio(command, env=env, **options)
        stack.callback(client.close)

        def say(text: str) -> None:
            if not json_output:
                print(text, file=out)

        say(f"Starting the demo server over {'Streamable HTTP' if http else 'stdio'}: {target}")
        client.connect()
        say(
            f"Connected to {client.server_info.name} {client.server_info.version} "
            f"(MCP {client.protocol_version}, pid {client.pid or 'n/a'})"
        )
        tools = client.list_tools()
        say(f"\n{len(tools)} tools:")
        for tool in tools:
            hints = [
                label
                for label, on in (
                    ("read-only", tool.annotations.read_only_hint),
                    ("idempotent", tool.annotations.idempotent_hint),
                )
                if on
            ]
            first_line = (tool.description or "").strip().splitlines()[:1]
            say(
                f"  {tool.name:<8} {', '.join(hints) or '-':<22} "
                f"{first_line[0] if first_line else ''}"
            )
        calls = demo_calls()
        say(f"\nRunning {len(calls)} tool calls on {MAX_WORKERS} threads ...")
        out.flush()
        started = time.monotonic()
        outcomes = client.call_tool_batch(  # its bar counts isError results as failed
            calls,
            max_workers=MAX_WORKERS,
            timeout=CALL_TIMEOUT_S,
            deadline=BATCH_DEADLINE_S,
            progress=show_bar,
        )
        wall_s = time.monotonic() - started
        report = summarise(
            outcomes,
            calls,
            client=client,
            transport="http" if http else "stdio",
            target=target,
            tools=[t.name for t in tools],
            wall_s=wall_s,
        )
    if json_output:
        print(json.dumps(report.to_json(), indent=2), file=out)
    else:
        print(format_report(report), file=out)
    return 0 if report.as_designed else 1


def check_progress_available(progress: bool | None) -> None:
    """Raise when a progress bar is demanded but tqdm is missing.

    Raises:
        UsageError: ``progress`` is True and tqdm is not installed.
    """
    if progress and not _tqdm_installed():
        raise UsageError("a progress bar needs tqdm: pip install 'syncclients[demo]'")
