"""call_tool_batch and the read-only result cache against the official SDK server (stdio)."""

from __future__ import annotations

import time

from syncclients.mcp import MCPClient


def test_batch_of_100_mixed_calls_one_outcome_each(sdk_client: MCPClient) -> None:
    calls: list[tuple[str, dict | None]] = []
    for i in range(100):
        if i % 10 == 3:
            calls.append(("fail", {"message": f"bad {i}"}))
        elif i % 10 == 7:
            calls.append(("sleep", {"seconds": 0.05}))
        else:
            calls.append(("add", {"a": i, "b": 1}))
    started = time.monotonic()
    outcomes = sdk_client.call_tool_batch(calls, max_workers=16, deadline=60)
    assert time.monotonic() - started < 30
    assert len(outcomes) == 100
    for i, outcome in enumerate(outcomes):
        assert outcome.result is not None, outcome.error
        if i % 10 == 3:  # the SDK reports a raising tool as isError: a failed call
            assert outcome.result.is_error
            assert (outcome.ok, outcome.status, outcome.error) == (False, "tool_error", None)
        else:
            assert outcome.ok, outcome.error
            if i % 10 != 7:
                assert outcome.result.text == str(i + 1)


def test_read_only_results_cached_against_real_server(sdk_cmd: list[str]) -> None:
    with MCPClient.stdio(sdk_cmd, cache_tool_results=True) as client:
        client.list_tools()
        first = client.call_tool("add", {"a": 2, "b": 3})
        second = client.call_tool("add", {"b": 3, "a": 2})
        assert first.text == second.text == "5"
        stats = client.cache_stats()
        assert stats.hits >= 1
        client.call_tool("echo", {"text": "x"})  # not read-only
        assert client.cache_stats().misses == stats.misses
