"""Run every benchmark side by side and write the results table into bench/README.md.

Usage::

    python bench/run.py            # the full run (about 6-8 minutes on 2 cores)
    python bench/run.py --quick    # a smoke run (about a minute): same tables, fewer calls
    python bench/run.py --no-write # print only

Each client variant runs in its own process (``bench/worker.py``), so the CPU it reports is
its own; servers are separate processes on 127.0.0.1 (ephemeral ports). Variants that are
compared run interleaved, ``--rounds`` times, and the median of each metric is reported:
on a shared machine absolute times drift, ratios measured side by side hold.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKER = HERE / "worker.py"
SERVERS = HERE / "servers.py"
README = HERE / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"

# Targets of issue 7 (ratio of syncclients to the official persistent-loop client).
TARGETS = {
    ("http", "latency"): 0.75,
    ("http", "cpu"): 0.5,
    ("stdio", "latency"): 0.85,
    ("stdio", "cpu"): 0.6,
}


@dataclass
class Sizes:
    rounds: int
    calls_1: int
    calls_8: int
    run_calls_http: tuple[int, int]
    run_calls_stdio: tuple[int, int]
    batch_workers: tuple[int, ...]
    batch_rounds: int
    http_calls: int
    growth_warmup: int
    growth_calls: int
    threads: tuple[int, ...] = (1, 8)


FULL = Sizes(3, 1000, 2000, (30, 64), (5, 16), (8, 32, 200), 3, 3000, 2000, 20000)
QUICK = Sizes(1, 200, 400, (8, 16), (2, 8), (32,), 1, 500, 200, 1000)
#: The smallest run that still fills every table (used by tests/bench: it checks the tool,
#: not the numbers).
SMOKE = Sizes(1, 20, 40, (2, 8), (1, 8), (200,), 1, 50, 20, 100, threads=(1,))


# -- processes -----------------------------------------------------------------------------------


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close() if self.proc.stdin else None
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


def start_server(mode: str) -> Server:
    proc = subprocess.Popen(
        [sys.executable, str(SERVERS), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        cwd=ROOT,
    )
    server = Server(proc)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()  # bounded: the server prints it or exits
    if not line.startswith("port "):
        server.stop()
        raise RuntimeError(f"server {mode} did not start: {line!r}")
    server.port = int(line.split()[1])
    return server


def run_worker(spec: dict[str, Any], timeout_s: float = 300) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(WORKER), json.dumps(spec)],
        capture_output=True,
        timeout=timeout_s,
        cwd=ROOT,
        check=False,
    )
    lines = [ln for ln in out.stdout.decode().splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        tail = out.stderr.decode()[-2000:]
        raise RuntimeError(f"worker failed ({out.returncode}) for {spec}:\n{tail}")
    return dict(json.loads(lines[-1]))


@contextlib.contextmanager
def servers() -> Iterator[dict[str, Server]]:
    started: dict[str, Server] = {}
    try:
        started["mcp-http"] = start_server("mcp-http")
        started["plain-http"] = start_server("plain-http")
        yield started
    finally:
        for server in started.values():
            server.stop()


def median_of(results: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in results if key in r)


def interleaved(specs: dict[str, dict[str, Any]], rounds: int) -> dict[str, list[dict[str, Any]]]:
    """Run each named spec ``rounds`` times, alternating the order every round."""
    names = list(specs)
    results: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            results[name].append(run_worker(specs[name]))
    return results


# -- report --------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def fmt(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}"


def versions() -> str:
    names = ["syncclients", "mcp", "requests", "urllib3", "httpx2", "anyio", "uvicorn"]
    parts = []
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            parts.append(f"{name} {metadata.version(name)}")
    return ", ".join(parts)


def machine() -> str:
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; load average at start {load}"
    )


def run_all(sizes: Sizes, era: str, log: Any) -> list[str]:
    lines: list[str] = []
    stdio_cmd = [sys.executable, str(SERVERS), "mcp-stdio"]
    with servers() as srv:
        mcp_url = f"http://127.0.0.1:{srv['mcp-http'].port}/mcp"
        plain_url = f"http://127.0.0.1:{srv['plain-http'].port}/"

        # -- MCP call latency and CPU ----------------------------------------------------------
        lines += [
            "### MCP call latency and client CPU per call (official-SDK server, `echo`)",
            "",
            f"Era: {era}. Medians of {sizes.rounds} interleaved rounds. Ratio = syncclients / "
            "official client on a persistent event-loop thread (lower is better). "
            "`asyncio.run` per call must connect and negotiate every call (stdio: start the "
            "server) because a session cannot outlive its event loop.",
            "",
            "| transport | threads | client | calls | latency mean ms | p50 ms | p99 ms "
            "| CPU ms/call | calls/s | conns/1000 calls |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        summary: list[str] = []
        for transport in ("http", "stdio"):
            for threads in sizes.threads:
                calls = sizes.calls_1 if threads == 1 else sizes.calls_8
                base: dict[str, Any] = {
                    "kind": "latency",
                    "transport": transport,
                    "threads": threads,
                    "era": era,
                    "url": mcp_url if transport == "http" else None,
                    "cmd": stdio_cmd,
                }
                specs = {
                    "syncclients": dict(base, client="syncclients", calls=calls, warmup=50),
                    "sdk-loop": dict(base, client="sdk-loop", calls=calls, warmup=50),
                }
                if transport == "http":
                    specs["requests"] = dict(base, client="requests", calls=calls, warmup=50)
                log(f"latency {transport} x{threads}")
                res = interleaved(specs, sizes.rounds)
                run_calls = sizes.run_calls_http if transport == "http" else sizes.run_calls_stdio
                n_run = run_calls[0] if threads == 1 else run_calls[1]
                log(f"latency {transport} x{threads} asyncio.run per call")
                res["sdk-run"] = [
                    run_worker(dict(base, client="sdk-run", calls=n_run, warmup=1), 600)
                ]
                med = {
                    name: {
                        k: median_of(rs, k)
                        for k in (
                            "lat_mean_ms",
                            "lat_p50_ms",
                            "lat_p99_ms",
                            "cpu_per_call_ms",
                            "throughput_per_s",
                            "connections",
                            "calls",
                        )
                        if any(k in r for r in rs)
                    }
                    for name, rs in res.items()
                }
                label = {
                    "syncclients": "syncclients MCPClient",
                    "sdk-loop": "official, persistent loop thread",
                    "sdk-run": "official, `asyncio.run` per call",
                    "requests": "bare `requests` POST (floor)",
                }
                for name in ("syncclients", "sdk-loop", "sdk-run", "requests"):
                    if name not in med:
                        continue
                    m = med[name]
                    conns = (
                        fmt(m["connections"] / m["calls"] * 1000, 0) if "connections" in m else "-"
                    )
                    lines.append(
                        f"| {transport} | {threads} | {label[name]} | {int(m['calls'])} "
                        f"| {fmt(m['lat_mean_ms'])} | {fmt(m['lat_p50_ms'])} "
                        f"| {fmt(m['lat_p99_ms'])} | {fmt(m['cpu_per_call_ms'], 3)} "
                        f"| {fmt(m['throughput_per_s'], 0)} | {conns} |"
                    )
                s, o, naive = med["syncclients"], med["sdk-loop"], med["sdk-run"]
                lat = s["lat_mean_ms"] / o["lat_mean_ms"]
                cpu = s["cpu_per_call_ms"] / o["cpu_per_call_ms"]
                speedup = naive["lat_mean_ms"] / s["lat_mean_ms"]
                lat_t, cpu_t = TARGETS[(transport, "latency")], TARGETS[(transport, "cpu")]
                floor = ""
                if "requests" in med:
                    bare = med["requests"]
                    floor = (
                        " vs bare requests: latency "
                        f"{fmt(s['lat_mean_ms'] / bare['lat_mean_ms'])}x,"
                        f" CPU {fmt(s['cpu_per_call_ms'] / bare['cpu_per_call_ms'])}x."
                    )
                conn_note = ""
                if "connections" in s:
                    per_k = s["connections"] / s["calls"] * 1000
                    conn_note = (
                        f" Connections per 1000 calls {fmt(per_k, 0)}"
                        f" ({verdict(per_k <= 16)} no churn)."
                    )
                summary.append(
                    f"| {transport} | {threads} "
                    f"| {fmt(lat)}x (target <= {lat_t}: {verdict(lat <= lat_t)}) "
                    f"| {fmt(cpu)}x (target <= {cpu_t}: {verdict(cpu <= cpu_t)}) "
                    f"| {fmt(speedup, 0)}x (target >= 10: {verdict(speedup >= 10)}) "
                    f"|{floor}{conn_note} |"
                )
        lines += [
            "",
            "Ratios (syncclients / official persistent loop):",
            "",
            "| transport | threads | latency | client CPU "
            "| faster than `asyncio.run` per call | notes |",
            "|---|---|---|---|---|---|",
            *summary,
            "",
        ]

        # -- batch ----------------------------------------------------------------------------
        lines += [
            "### Batch: 200 calls to a 50 ms tool",
            "",
            "`call_tool_batch(max_workers=W)` vs the official client's `asyncio.gather` under "
            f"`asyncio.Semaphore(W)` on one session (persistent loop). Medians of "
            f"{sizes.batch_rounds} interleaved rounds; ideal = ceil(200 / W) x 50 ms.",
            "",
            "| server | W | ideal s | syncclients s | official gather s | ratio | target <= 0.9 "
            "| syncclients CPU s | official CPU s |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        light_cmd = [sys.executable, str(SERVERS), "light-stdio"]
        for label, transport, cmd in (
            ("official SDK, HTTP", "http", stdio_cmd),
            ("official SDK, stdio", "stdio", stdio_cmd),
            ("light (no SDK), stdio", "stdio", light_cmd),
        ):
            for workers in sizes.batch_workers:
                base = {
                    "kind": "batch",
                    "transport": transport,
                    "era": era,
                    "url": mcp_url if transport == "http" else None,
                    "cmd": cmd,
                    "n": 200,
                    "ms": 50,
                    "workers": workers,
                }
                log(f"batch {label} W={workers}")
                res = interleaved(
                    {
                        "syncclients": dict(base, client="syncclients"),
                        "sdk-loop": dict(base, client="sdk-loop"),
                    },
                    sizes.batch_rounds,
                )
                for rs in res.values():
                    for r in rs:
                        if r["ok"] != r["n"]:
                            raise RuntimeError(f"batch lost calls: {r}")
                s_w, o_w = (
                    median_of(res["syncclients"], "wall_s"),
                    median_of(res["sdk-loop"], "wall_s"),
                )
                ideal = math.ceil(200 / workers) * 0.05
                ratio = s_w / o_w
                lines.append(
                    f"| {label} | {workers} | {fmt(ideal)} | {fmt(s_w, 3)} | {fmt(o_w, 3)} "
                    f"| {fmt(ratio)}x | {verdict(ratio <= 0.9)} "
                    f"| {fmt(median_of(res['syncclients'], 'cpu_s'), 3)} "
                    f"| {fmt(median_of(res['sdk-loop'], 'cpu_s'), 3)} |"
                )
        lines.append("")

        # -- HTTPClient overhead ----------------------------------------------------------------
        log("HTTPClient vs requests.Session")
        base = {"kind": "latency", "threads": 1, "url": plain_url, "calls": sizes.http_calls}
        res = interleaved(
            {
                "httpclient": dict(base, client="httpclient", warmup=50),
                "bare-requests": dict(base, client="bare-requests", warmup=50),
            },
            sizes.rounds + 2 if sizes.rounds > 1 else 1,
        )
        overhead = run_worker(
            {"kind": "overhead", "url": plain_url, "calls": max(2000, sizes.http_calls * 4)}
        )["cpu_per_call_ms"]
        h_cpu = median_of(res["httpclient"], "cpu_per_call_ms")
        b_cpu = median_of(res["bare-requests"], "cpu_per_call_ms")
        h_lat = median_of(res["httpclient"], "lat_mean_ms")
        b_lat = median_of(res["bare-requests"], "lat_mean_ms")
        h_conn = median_of(res["httpclient"], "connections") / sizes.http_calls * 1000
        b_conn = median_of(res["bare-requests"], "connections") / sizes.http_calls * 1000
        lines += [
            "### HTTPClient vs a bare `requests.Session` (local server, GET of a small JSON body)",
            "",
            "| client | CPU ms/call | latency mean ms | conns/1000 calls |",
            "|---|---|---|---|",
            f"| syncclients HTTPClient.get | {fmt(h_cpu, 3)} | {fmt(h_lat)} | {fmt(h_conn, 0)} |",
            f"| requests.Session.get + .json() | {fmt(b_cpu, 3)} | {fmt(b_lat)} "
            f"| {fmt(b_conn, 0)} |",
            "",
            f"CPU ratio {fmt(h_cpu / b_cpu)}x (target <= 1.1: {verdict(h_cpu / b_cpu <= 1.1)}). "
            f"HTTPClient's own layers (deadline, retry, breaker, budget, hooks, metrics, "
            f"request id, decoding; `send` stubbed out) cost {fmt(overhead * 1000, 1)} us per "
            f"call = {fmt(overhead / b_cpu * 100, 1)}% of a bare requests call.",
            "",
        ]

        # -- growth -----------------------------------------------------------------------------
        lines += [
            f"### Resources over {sizes.growth_warmup + sizes.growth_calls} calls (8 threads)",
            "",
            "RSS in MiB, OS threads, open fds: before the client exists, after "
            f"{sizes.growth_warmup} warm-up calls, after all calls, after `close()`. "
            "Growth is judged warm -> end (pools and caches are filled during warm-up).",
            "",
            "| client | conns/1000 calls | RSS base / warm / end / closed | threads | fds "
            "| verdict |",
            "|---|---|---|---|---|---|",
        ]
        for name, spec in (
            (
                "MCPClient stdio",
                {"client": "syncclients", "transport": "stdio", "cmd": stdio_cmd, "url": None},
            ),
            ("MCPClient HTTP", {"client": "syncclients", "transport": "http", "url": mcp_url}),
            ("HTTPClient", {"client": "httpclient", "url": plain_url}),
        ):
            log(f"growth {name}")
            r = run_worker(
                dict(
                    spec,
                    kind="growth",
                    era=era,
                    threads=8,
                    warmup=sizes.growth_warmup,
                    calls=sizes.growth_calls,
                ),
                900,
            )
            b, w, e, c = r["base"], r["warm"], r["end"], r["closed"]

            def row(key: str, snap: tuple[dict[str, int], ...]) -> str:
                if key == "rss_kib":
                    return " / ".join(f"{s[key] / 1024:.1f}" for s in snap)
                return " / ".join(str(s[key]) for s in snap)

            grew_mib = (e["rss_kib"] - w["rss_kib"]) / 1024
            ok = (
                grew_mib < 4
                and e["threads"] <= w["threads"] + 1
                and e["fds"] <= w["fds"] + 2
                and c["threads"] <= b["threads"]
                and c["fds"] <= b["fds"] + 1
            )
            conns = fmt(r["connections"] / r["calls"] * 1000, 1) if "connections" in r else "-"
            lines.append(
                f"| {name} | {conns} | {row('rss_kib', (b, w, e, c))} "
                f"| {row('threads', (b, w, e, c))} | {row('fds', (b, w, e, c))} "
                f"| {verdict(ok)} (RSS warm->end {grew_mib:+.1f} MiB) |"
            )
        lines.append("")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run with fewer calls")
    parser.add_argument(
        "--smoke", action="store_true", help="the smallest run (checks the tool, not speed)"
    )
    parser.add_argument("--era", choices=("legacy", "modern"), default="legacy")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds")
    parser.add_argument("--no-write", action="store_true", help="do not update bench/README.md")
    parser.add_argument("--output", type=Path, default=None, help="also write the table here")
    args = parser.parse_args(argv)
    sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
    if args.rounds:
        sizes.rounds = sizes.batch_rounds = args.rounds
    started = time.monotonic()

    def log(msg: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {msg}", file=sys.stderr, flush=True)

    header = [
        f"Run: `python bench/run.py{' --quick' if args.quick else ''}"
        f"{' --smoke' if args.smoke else ''}`, "
        f"{dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.",
        "",
        f"Machine: {machine()}.",
        "",
        f"Versions: {versions()}.",
        "",
    ]
    body = run_all(sizes, args.era, log)
    log("done")
    text = "\n".join([*header, *body, f"Total run time {time.monotonic() - started:.0f} s.", ""])
    print(text)
    if args.output is not None:
        args.output.write_text(text)
    if not args.no_write and not args.quick and not args.smoke:
        current = README.read_text() if README.exists() else f"{START}\n{END}\n"
        if START in current and END in current:
            head, rest = current.split(START, 1)
            _, tail = rest.split(END, 1)
            README.write_text(f"{head}{START}\n{text}\n{END}{tail}")
        else:
            README.write_text(f"{current}\n{START}\n{text}\n{END}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
