"""LLM failover: two providers behind one router, the first overloaded (HTTP 529).

Runs against local fake servers (syncclients.testing.llm_server) that speak the Anthropic
and OpenAI wire formats, through the real ``anthropic`` and ``openai`` SDKs, so it needs no
key and no network: ``pip install 'syncclients[openai,anthropic]'`` then
``python examples/llm_failover.py``. With real keys, drop the fake servers and the
``base_url`` arguments.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from syncclients import BreakerPolicy
from syncclients.llm import AnthropicProvider, LLMRouter, OpenAIProvider, TextDelta
from syncclients.testing.llm_server import FakeLLMServer, Fault


def main() -> None:
    with FakeLLMServer("anthropic") as claude, FakeLLMServer("openai") as gpt:
        claude.always = Fault(status=529)  # Anthropic "overloaded", on every request
        primary = AnthropicProvider(
            model="claude-sonnet-4-5",
            api_key="example-key",
            base_url=claude.base_url,
            timeout=10.0,
            breaker=BreakerPolicy(failure_threshold=5, recovery_timeout_s=30),
            hooks=(),  # no attempt logging in this example
        )
        backup = OpenAIProvider(
            model="gpt-4o-mini", api_key="example-key", base_url=gpt.base_url, hooks=()
        )
        router = LLMRouter([primary, backup], strategy="fallback", max_attempts=4, deadline_s=30)

        reply = router.generate([{"role": "user", "content": "Say hello."}])
        print(f"answered by {reply.provider}: {reply.text!r} ({reply.finish_reason})")

        text = "".join(
            e.text
            for e in router.stream([{"role": "user", "content": "Stream it."}])
            if isinstance(e, TextDelta)
        )
        print(f"streamed: {text!r}")

        started = time.monotonic()
        with ThreadPoolExecutor(32) as pool:
            replies = list(
                pool.map(lambda _: router.generate([{"role": "user", "content": "hi"}]), range(200))
            )
        elapsed = time.monotonic() - started
        first, second = len(claude.chat_requests()), len(gpt.chat_requests())
        print(
            f"200 calls on 32 threads in {elapsed:.2f} s: all answered by "
            f"{sorted({r.provider for r in replies})}; attempts on the overloaded provider: "
            f"{first}, on the backup: {second}"
        )
        for name, health in router.health().items():
            print(
                f"{name}: reachable={health.reachable} breaker={health.breaker_state} "
                f"calls={health.calls} errors={health.errors}"
            )
        primary.close()
        backup.close()


if __name__ == "__main__":
    main()
