"""Per-call overhead of syncclients.llm providers over the bare SDK, side by side.

The fake server (syncclients.testing.llm_server) runs in a separate process, so the CPU
measured here (``time.process_time()``) is the client's own. For each provider flavor, the
bare SDK client (``max_retries=0``, the same timeout, the same request: one user message,
100 max tokens) and our provider alternate in rounds (A B, B A, ...) of N sequential calls;
CPU per call is the median over rounds of the mean per call. Wall time per call is the
median over single calls made alternately (A, B, A, B, ...), which cancels the drift of a
shared machine. Overhead = ours - bare. Benchmarks are not tests: nothing here asserts a
time.

    python bench/llm_overhead.py            # 7 rounds x 300 calls per flavor
    python bench/llm_overhead.py --smoke    # 2 rounds x 10 calls (checks the tool)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

SERVER = """
import sys, threading
from syncclients.testing.llm_server import FakeLLMServer
s = FakeLLMServer(sys.argv[1]).start()
print(s.base_url, flush=True)
sys.stdin.read()
s.stop()
"""

MESSAGES = [{"role": "user", "content": "Say hello."}]


def start_server(flavor: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, flavor],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    return proc, url


def pair(flavor: str, url: str) -> tuple[Callable[[], Any], Callable[[], Any], Callable[[], None]]:
    """(bare SDK call, our call, close)."""
    from syncclients.llm import AnthropicProvider, GeminiProvider, OpenAIProvider

    if flavor == "openai":
        import openai

        client = openai.OpenAI(api_key="k", base_url=url, max_retries=0, timeout=30.0)
        ours: Any = OpenAIProvider(model="fake-model", api_key="k", base_url=url, hooks=())

        def bare() -> Any:
            return client.chat.completions.create(  # type: ignore[call-overload]
                model="fake-model", messages=MESSAGES, max_completion_tokens=100
            )

    elif flavor == "anthropic":
        import anthropic

        client = anthropic.Anthropic(api_key="k", base_url=url, max_retries=0, timeout=30.0)
        ours = AnthropicProvider(model="fake-model", api_key="k", base_url=url, hooks=())

        def bare() -> Any:
            return client.messages.create(model="fake-model", messages=MESSAGES, max_tokens=100)  # type: ignore[arg-type]

    else:
        from google import genai
        from google.genai import types

        client = genai.Client(
            api_key="k", http_options=types.HttpOptions(base_url=url, timeout=30_000)
        )
        ours = GeminiProvider(model="fake-model", api_key="k", base_url=url, hooks=())

        def bare() -> Any:
            return client.models.generate_content(
                model="fake-model",
                contents=[{"role": "user", "parts": [{"text": "Say hello."}]}],
                config={"max_output_tokens": 100},
            )

    def mine() -> Any:
        return ours.generate(MESSAGES, max_tokens=100)

    def close() -> None:
        ours.close()
        if hasattr(client, "close"):
            client.close()

    return bare, mine, close


def measure(fn: Callable[[], Any], n: int) -> tuple[float, float]:
    """(wall seconds per call, CPU seconds per call) over n sequential calls."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        fn()
    return (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n


def interleaved(
    a: Callable[[], Any], b: Callable[[], Any], n: int
) -> tuple[list[float], list[float]]:
    """Per-call wall times of ``a`` and ``b`` called alternately n times each (drift-free)."""
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(n):
        t = time.perf_counter()
        a()
        ta.append(time.perf_counter() - t)
        t = time.perf_counter()
        b()
        tb.append(time.perf_counter() - t)
    return ta, tb


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    rounds, calls = (2, 10) if args.smoke else (args.rounds, args.calls)
    print(f"{rounds} rounds x {calls} calls; microseconds per call (medians)")
    print("| flavor | bare wall | ours wall | +wall | bare CPU | ours CPU | +CPU |")
    print("|---|---|---|---|---|---|---|")
    for flavor in ("openai", "anthropic", "gemini"):
        proc, url = start_server(flavor)
        try:
            bare, mine, close = pair(flavor, url)
            measure(bare, 5)
            measure(mine, 5)
            results: dict[str, list[tuple[float, float]]] = {"bare": [], "ours": []}
            for r in range(rounds):
                order = [("bare", bare), ("ours", mine)]
                for name, fn in order if r % 2 == 0 else reversed(order):
                    results[name].append(measure(fn, calls))
            walls = interleaved(bare, mine, rounds * calls)
            close()
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(10)
        bw, ow = (statistics.median(w) * 1e6 for w in walls)
        bc = statistics.median(c for _, c in results["bare"]) * 1e6
        oc = statistics.median(c for _, c in results["ours"]) * 1e6
        cells = [f"{bw:.0f}", f"{ow:.0f}", f"{ow - bw:+.0f}", f"{bc:.0f}", f"{oc:.0f}"]
        print(f"| {flavor} | " + " | ".join(cells) + f" | {oc - bc:+.0f} |")


if __name__ == "__main__":
    main()
