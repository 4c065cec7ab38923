"""One benchmark variant in its own process, so the CPU it reports is the client's alone.

Usage: ``python bench/worker.py '<json spec>'``; prints one JSON line with the results.
Started by ``bench/run.py``; the server is always another process.

Spec keys: ``kind`` (``latency`` | ``batch`` | ``http`` | ``growth``), ``client``,
``transport`` (``stdio`` | ``http``), ``threads``, ``calls``, ``warmup``, ``era``, ``url``,
``cmd``, ``workers``, ``ms``. CPU per call is ``time.process_time()`` (user + system of every
thread of this process) over the timed calls, divided by their number.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODERN = "2026-07-28"
LEGACY_VERSION = "2025-11-25"
PAYLOAD = "hello benchmark"


# -- process measurements ----------------------------------------------------------------------


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def snapshot() -> dict[str, int]:
    gc.collect()
    return {"rss_kib": rss_kib(), "threads": os_threads(), "fds": open_fds()}


def server_stats(url: str | None) -> dict[str, int] | None:
    if not url:
        return None
    import urllib.request

    base = url.split("/mcp")[0].rstrip("/")
    with urllib.request.urlopen(f"{base}/bench/stats", timeout=10) as r:
        return dict(json.loads(r.read()))


# -- clients: each is (setup, call, teardown) ---------------------------------------------------


class SyncClientsMCP:
    """syncclients.MCPClient over stdio or Streamable HTTP."""

    def __init__(self, spec: dict[str, Any]) -> None:
        from syncclients.mcp import MCPClient

        era = "legacy" if spec["era"] == "legacy" else MODERN
        if spec["transport"] == "stdio":
            self.client = MCPClient.stdio(spec["cmd"], era=era)
        else:
            try:
                self.client = MCPClient.http(spec["url"], era=era)
            except NotImplementedError:  # MCPClient.http not wired yet: build it by hand
                from syncclients.transports.streamable_http import StreamableHTTPTransport

                url = spec["url"]
                self.client = MCPClient(lambda: StreamableHTTPTransport(url), era=era)
        self.client.connect()

    def call(self, tool: str = "echo", args: dict[str, Any] | None = None) -> None:
        result = self.client.call_tool(tool, args if args is not None else {"text": PAYLOAD})
        assert not result.is_error, result

    def batch(self, n: int, ms: int, workers: int) -> int:
        outcomes = self.client.call_tool_batch([("sleep_ms", {"ms": ms})] * n, max_workers=workers)
        return sum(1 for o in outcomes if o.ok)

    def close(self) -> None:
        self.client.close()


def _sdk_client(spec: dict[str, Any]) -> Any:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    mode = "legacy" if spec["era"] == "legacy" else MODERN
    if spec["transport"] == "stdio":
        server: Any = StdioServerParameters(command=spec["cmd"][0], args=spec["cmd"][1:])
    else:
        server = spec["url"]
    return Client(server, mode=mode)


class SDKRunPerCall:
    """The official client from sync code, the naive way: ``asyncio.run`` per call (it must
    connect, negotiate and disconnect every time: a session cannot outlive its loop)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def call(self, tool: str = "echo", args: dict[str, Any] | None = None) -> None:
        async def once() -> None:
            async with _sdk_client(self.spec) as client:
                result = await client.call_tool(
                    tool, args if args is not None else {"text": PAYLOAD}
                )
                assert not result.is_error, result

        asyncio.run(once())

    def close(self) -> None:
        pass


class SDKPersistentLoop:
    """The official client from sync code, the best way available: one event loop on a
    background thread, one task owning the session for its whole life, and calls submitted
    with ``run_coroutine_threadsafe``."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        ready: asyncio.Future[Any] = self.loop.create_future()
        self.stop: asyncio.Event | None = None

        async def owner() -> None:
            self.stop = asyncio.Event()
            async with _sdk_client(spec) as client:
                ready.set_result(client)
                await self.stop.wait()

        self.owner = asyncio.run_coroutine_threadsafe(owner(), self.loop)
        self.client = asyncio.run_coroutine_threadsafe(_await(ready), self.loop).result(60)

    def call(self, tool: str = "echo", args: dict[str, Any] | None = None) -> None:
        coro = self.client.call_tool(tool, args if args is not None else {"text": PAYLOAD})
        result = asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)
        assert not result.is_error, result

    def batch(self, n: int, ms: int, workers: int) -> int:
        async def gather() -> int:
            sem = asyncio.Semaphore(workers)

            async def one() -> bool:
                async with sem:
                    result = await self.client.call_tool("sleep_ms", {"ms": ms})
                    return not result.is_error

            done = await asyncio.gather(*(one() for _ in range(n)), return_exceptions=True)
            return sum(1 for d in done if d is True)

        return int(asyncio.run_coroutine_threadsafe(gather(), self.loop).result(120))

    def close(self) -> None:
        stop = self.stop
        assert stop is not None
        self.loop.call_soon_threadsafe(stop.set)
        self.owner.result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


async def _await(fut: asyncio.Future[Any]) -> Any:
    return await fut


class BareRequestsMCP:
    """The floor: a hand-written ``requests`` POST of the same JSON-RPC call (one
    requests.Session per thread, the MCP session shared), no policy, no validation."""

    def __init__(self, spec: dict[str, Any]) -> None:
        import requests

        self.url = spec["url"]
        self.modern = spec["era"] != "legacy"
        self.local = threading.local()
        self.ids = iter(range(1, 1 << 62))
        self.lock = threading.Lock()
        self.base_headers = {
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
            "MCP-Protocol-Version": MODERN if self.modern else LEGACY_VERSION,
        }
        self._requests = requests
        if not self.modern:
            r = self.session().post(
                self.url,
                json={
                    "jsonrpc": "2.0",
                    "id": 0,
                    "method": "initialize",
                    "params": {
                        "protocolVersion": LEGACY_VERSION,
                        "capabilities": {},
                        "clientInfo": {"name": "bare-requests", "version": "0"},
                    },
                },
                headers=self.base_headers,
                timeout=30,
            )
            r.raise_for_status()
            self.base_headers["Mcp-Session-Id"] = r.headers["Mcp-Session-Id"]
            r.content  # noqa: B018 - read the body
            self.session().post(
                self.url,
                json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                headers=self.base_headers,
                timeout=30,
            ).raise_for_status()

    def session(self) -> Any:
        s = getattr(self.local, "s", None)
        if s is None:
            s = self.local.s = self._requests.Session()
        return s

    def call(self, tool: str = "echo", args: dict[str, Any] | None = None) -> None:
        with self.lock:
            rid = next(self.ids)
        params: dict[str, Any] = {
            "name": tool,
            "arguments": args if args is not None else {"text": PAYLOAD},
        }
        headers = self.base_headers
        if self.modern:
            params["_meta"] = {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {},
            }
            headers = dict(headers, **{"Mcp-Method": "tools/call", "Mcp-Name": tool})
        body = {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params}
        r = self.session().post(self.url, json=body, headers=headers, timeout=30)
        r.raise_for_status()
        if r.headers.get("content-type", "").startswith("text/event-stream"):
            message = None
            for line in r.content.splitlines():
                if line.startswith(b"data:") and line[5:].strip():
                    candidate = json.loads(line[5:])
                    if candidate.get("id") == rid:
                        message = candidate
        else:
            message = r.json()
        assert message is not None, r.content
        assert "result" in message, message

    def close(self) -> None:
        pass


class SyncHTTPClient:
    def __init__(self, spec: dict[str, Any]) -> None:
        from syncclients import HTTPClient

        self.client = HTTPClient(spec["url"])

    def call(self) -> None:
        assert self.client.get("item")["id"] == 42

    def close(self) -> None:
        self.client.close()


class BareRequestsHTTP:
    def __init__(self, spec: dict[str, Any]) -> None:
        import requests

        self.url = spec["url"].rstrip("/") + "/item"
        self.session = requests.Session()

    def call(self) -> None:
        r = self.session.get(self.url, timeout=(5, 30))
        r.raise_for_status()
        assert r.json()["id"] == 42

    def close(self) -> None:
        self.session.close()


CLIENTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "syncclients": SyncClientsMCP,
    "sdk-run": SDKRunPerCall,
    "sdk-loop": SDKPersistentLoop,
    "requests": BareRequestsMCP,
    "httpclient": SyncHTTPClient,
    "bare-requests": BareRequestsHTTP,
}


# -- measurements ------------------------------------------------------------------------------


def run_calls(client: Any, calls: int, threads: int) -> dict[str, Any]:
    """Run ``calls`` calls spread over ``threads`` threads; time and CPU them."""
    per_thread = [calls // threads + (1 if i < calls % threads else 0) for i in range(threads)]
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads + 1)

    def work(i: int) -> None:
        out = latencies[i]
        barrier.wait()
        try:
            for _ in range(per_thread[i]):
                t = time.perf_counter()
                client.call()
                out.append(time.perf_counter() - t)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for w in workers:
        w.join()
    cpu1, wall1 = time.process_time(), time.perf_counter()
    if errors:
        raise errors[0]
    flat = sorted(x for lat in latencies for x in lat)
    return {
        "calls": len(flat),
        "wall_s": wall1 - wall0,
        "cpu_s": cpu1 - cpu0,
        "lat_mean_ms": statistics.fmean(flat) * 1000,
        "lat_p50_ms": flat[len(flat) // 2] * 1000,
        "lat_p99_ms": flat[min(len(flat) - 1, int(len(flat) * 0.99))] * 1000,
        "cpu_per_call_ms": (cpu1 - cpu0) / len(flat) * 1000,
        "throughput_per_s": len(flat) / (wall1 - wall0),
    }


def kind_latency(spec: dict[str, Any]) -> dict[str, Any]:
    client = CLIENTS[spec["client"]](spec)
    try:
        for _ in range(spec.get("warmup", 0)):
            client.call()
        before = server_stats(spec.get("url"))
        result = run_calls(client, spec["calls"], spec["threads"])
        after = server_stats(spec.get("url"))
        if before is not None and after is not None:
            result["connections"] = after["connections"] - before["connections"]
    finally:
        client.close()
    return result


def kind_batch(spec: dict[str, Any]) -> dict[str, Any]:
    client = CLIENTS[spec["client"]](spec)
    try:
        client.call()  # warm up
        client.batch(min(spec["workers"], 16), spec["ms"], spec["workers"])
        cpu0, t0 = time.process_time(), time.perf_counter()
        ok = client.batch(spec["n"], spec["ms"], spec["workers"])
        cpu1, t1 = time.process_time(), time.perf_counter()
    finally:
        client.close()
    return {"wall_s": t1 - t0, "cpu_s": cpu1 - cpu0, "ok": ok, "n": spec["n"]}


def kind_growth(spec: dict[str, Any]) -> dict[str, Any]:
    """RSS, threads and fds: before the client, after a warm-up, after all calls, after
    close(). The growth that matters is warm -> end (caches and pools are filled by then)."""
    base = snapshot()
    client = CLIENTS[spec["client"]](spec)
    stats0 = server_stats(spec.get("url"))
    run_calls(client, spec["warmup"], spec["threads"])
    warm = snapshot()
    timing = run_calls(client, spec["calls"], spec["threads"])
    end = snapshot()
    stats1 = server_stats(spec.get("url"))
    client.close()
    # threads of a closed client must end; give them a bounded moment
    limit = time.monotonic() + 5
    while os_threads() > base["threads"] and time.monotonic() < limit:
        time.sleep(0.05)
    closed = snapshot()
    out: dict[str, Any] = {
        "base": base,
        "warm": warm,
        "end": end,
        "closed": closed,
        "calls": spec["warmup"] + spec["calls"],
        "cpu_per_call_ms": timing["cpu_per_call_ms"],
    }
    if stats0 is not None and stats1 is not None:
        out["connections"] = stats1["connections"] - stats0["connections"]
    return out


def kind_overhead(spec: dict[str, Any]) -> dict[str, Any]:
    """HTTPClient's own cost per call: the policy layers (deadline, retry, breaker, budget,
    hooks, metrics, request id, decoding) with ``send`` replaced by a stub that returns a
    ready response, so no requests/urllib3/socket work is counted."""
    import requests

    import syncclients.http.client as http_client
    from syncclients import HTTPClient

    response = requests.Response()
    response.status_code = 200
    response._content = b'{"id": 42}'
    response.headers["Content-Type"] = "application/json"
    response.url = spec["url"] + "item"
    http_client.send = lambda *_a, **_k: response  # type: ignore[assignment]
    client = HTTPClient(spec["url"])
    for _ in range(1000):
        client.get("item")
    cpu0 = time.process_time()
    for _ in range(spec["calls"]):
        client.get("item")
    cpu = time.process_time() - cpu0
    client.close()
    return {"cpu_per_call_ms": cpu / spec["calls"] * 1000}


def main() -> None:
    spec = json.loads(sys.argv[1])
    if spec.get("profile"):
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
    kind = {
        "latency": kind_latency,
        "batch": kind_batch,
        "growth": kind_growth,
        "overhead": kind_overhead,
    }
    result = kind[spec["kind"]](spec)
    if spec.get("profile"):
        profiler.stop()
        with open(spec["profile"], "w") as f:
            f.write(profiler.output_text(unicode=False, color=False, show_all=False))
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
