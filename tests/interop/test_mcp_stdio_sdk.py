"""MCPClient over stdio against the official Python SDK (mcp 2.3.0 MCPServer), both eras."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from syncclients.errors import (
    CircuitOpenError,
    ConnectError,
    ConnectionLostError,
    MCPError,
    ReadTimeout,
    ServerExitedError,
    ToolArgumentsError,
    UsageError,
)
from syncclients.mcp import (
    CallToolResult,
    CreateMessageRequest,
    CreateMessageResult,
    ElicitRequest,
    ElicitResult,
    LogMessage,
    MCPClient,
    Progress,
    Root,
    TextContent,
    TextResourceContents,
)

pytestmark = pytest.mark.interop


def _wait_for(predicate, timeout_s: float = 5.0) -> bool:
    """Poll a condition until it holds or ``timeout_s`` passes (bounded)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_auto_negotiates_modern_with_sdk_server(sdk_cmd: list[str]) -> None:
    with MCPClient.stdio(sdk_cmd) as client:
        assert client.era == "modern"
        assert client.protocol_version == "2026-07-28"
        assert client.server_info.name == "sdk-test-server"


def test_handshake_and_server_state(sdk_client: MCPClient, era: str) -> None:
    expected = "2025-11-25" if era == "legacy" else "2026-07-28"
    assert sdk_client.protocol_version == expected
    assert sdk_client.era == ("legacy" if era == "legacy" else "modern")
    assert sdk_client.server_info.name == "sdk-test-server"
    assert sdk_client.instructions == "A test server for syncclients."
    assert sdk_client.capabilities.tools
    assert sdk_client.capabilities.prompts and sdk_client.capabilities.completions
    sdk_client.ping()


def test_list_tools_is_typed(sdk_client: MCPClient) -> None:
    tools = sdk_client.list_tools()
    by_name = {t.name: t for t in tools}
    assert {"add", "echo", "fail", "sleep", "greet_user"} <= set(by_name)
    add = by_name["add"]
    assert add.description == "Add two integers."
    assert add.input_schema["properties"]["a"]["type"] == "integer"
    assert add.annotations.read_only_hint is True
    assert by_name["echo"].annotations.read_only_hint is None
    assert add.raw["name"] == "add"


def test_call_tool_results(sdk_client: MCPClient) -> None:
    result = sdk_client.call_tool("add", {"a": 2, "b": 40})
    assert isinstance(result, CallToolResult)
    assert result.is_error is False
    assert result.text == "42"
    assert result.structured_content == {"result": 42}
    assert isinstance(result.content[0], TextContent)
    assert sdk_client.call_tool("echo", {"text": "héllo ✅\nline"}).text == "héllo ✅\nline"


def test_tool_errors_are_answers_not_crashes(sdk_client: MCPClient) -> None:
    unknown = sdk_client.call_tool("no_such_tool", {})
    assert unknown.is_error and "no_such_tool" in unknown.text
    raising = sdk_client.call_tool("fail", {"message": "boom"})
    assert raising.is_error and "fail" in raising.text
    invalid = sdk_client.call_tool("add", {"a": "not a number"})
    assert invalid.is_error
    assert sdk_client.call_tool("add", {"a": 1, "b": 1}).text == "2"  # still usable


def test_resources(sdk_client: MCPClient, era: str) -> None:
    resources = sdk_client.list_resources()
    assert [r.uri for r in resources] == ["res://hello"]
    assert resources[0].mime_type == "text/plain"
    templates = sdk_client.list_resource_templates()
    assert templates[0].uri_template == "res://greeting/{name}"
    read = sdk_client.read_resource("res://hello")
    assert isinstance(read.contents[0], TextResourceContents)
    assert read.text == "hello world"
    assert sdk_client.read_resource("res://greeting/ada").text == "greetings, ada"
    with pytest.raises(MCPError) as info:
        sdk_client.read_resource("res://missing")
    assert info.value.code in (-32002, -32602)  # the SDK answers -32602 in both eras
    assert info.value.method == "resources/read"
    if era == "legacy":
        if sdk_client.capabilities.resources_subscribe:
            sdk_client.subscribe_resource("res://hello")
            sdk_client.unsubscribe_resource("res://hello")
        else:  # the server's answer, typed
            with pytest.raises(MCPError) as refused:
                sdk_client.subscribe_resource("res://hello")
            assert refused.value.code == -32601
    else:  # subscriptions/listen (see test_mcp_subscriptions.py for the notifications)
        sdk_client.subscribe_resource("res://hello")
        sdk_client.unsubscribe_resource("res://hello")


def test_modern_cache_hints_are_kept(sdk_cmd: list[str]) -> None:
    with MCPClient.stdio(sdk_cmd, era="2026-07-28") as client:
        tools = client.list_tools()
        assert tools.ttl_ms is not None and tools.ttl_ms >= 0
        assert tools.cache_scope in ("public", "private")
        read = client.read_resource("res://hello")
        assert read.cache_scope in ("public", "private")


def test_prompts_and_completion(sdk_client: MCPClient) -> None:
    prompts = sdk_client.list_prompts()
    review = next(p for p in prompts if p.name == "review")
    assert [(a.name, a.required) for a in review.arguments] == [
        ("code", True),
        ("language", False),
    ]
    rendered = sdk_client.get_prompt("review", {"code": "x = 1", "language": "python"})
    assert rendered.messages[0].role == "user"
    assert "x = 1" in rendered.text
    completion = sdk_client.complete(prompt="review", argument="language", value="p")
    assert completion.values == ("python", "perl")


def test_callbacks_answer_server_requests(sdk_cmd: list[str], era: str) -> None:
    seen: list[object] = []
    callback_threads: set[str] = set()

    def elicit(request: ElicitRequest) -> ElicitResult:
        seen.append(request)
        callback_threads.add(threading.current_thread().name)
        return ElicitResult("accept", {"name": "Ada"})

    def sample(request: CreateMessageRequest) -> CreateMessageResult:
        seen.append(request)
        return CreateMessageResult("roses are red", "test-model")

    with MCPClient.stdio(
        sdk_cmd,
        era=era,
        elicitation=elicit,
        sampling=sample,
        roots=lambda: [Root("file:///tmp/project", "project"), "file:///srv"],
    ) as client:
        assert client.call_tool("greet_user").text == "Hello, Ada!"
        assert client.call_tool("poem").text == "poem: roses are red"
        assert client.call_tool("count_roots").text == "file:///tmp/project,file:///srv"
    elicit_request = next(s for s in seen if isinstance(s, ElicitRequest))
    assert elicit_request.message == "Who are you?"
    assert elicit_request.mode == "form"
    assert elicit_request.requested_schema is not None
    assert any(isinstance(s, CreateMessageRequest) and s.max_tokens == 20 for s in seen)
    if era == "legacy":  # server requests run on the worker pool, not the reader thread
        assert all(name.startswith("mcp-callback") for name in callback_threads)


def test_declined_elicitation_and_missing_callback(sdk_cmd: list[str], era: str) -> None:
    with MCPClient.stdio(sdk_cmd, era=era, elicitation=lambda r: ElicitResult("decline")) as client:
        declined = client.call_tool("greet_user")
        assert declined.is_error
    with MCPClient.stdio(sdk_cmd, era=era) as client:  # no elicitation capability
        try:
            result = client.call_tool("greet_user")
        except MCPError:
            pass  # modern: -32021 or a refused input request
        else:
            assert result.is_error


def test_progress_and_logging(sdk_cmd: list[str], era: str) -> None:
    logs: list[LogMessage] = []
    progress: list[Progress] = []
    with MCPClient.stdio(sdk_cmd, era=era, on_log=logs.append) as client:
        client.set_logging_level("debug")
        result = client.call_tool("sleep", {"seconds": 0.1}, on_progress=progress.append)
        assert result.text == "slept"
        assert [p.progress for p in progress] == [0, 1, 2, 3, 4]
        assert progress[-1].total == 4 and progress[-1].message == "done"
        if era == "legacy":
            client.call_tool("log_something", {"message": "hello log"})
            assert _wait_for(lambda: any(m.data == "hello log" for m in logs))
            assert logs[0].level == "info"


def test_timeout_cancels_on_server(sdk_client: MCPClient) -> None:
    started = time.monotonic()
    with pytest.raises(ReadTimeout) as info:
        sdk_client.call_tool("sleep", {"seconds": 10}, timeout=0.3)
    assert 0.25 < time.monotonic() - started < 2.0
    assert info.value.timeout_s == pytest.approx(0.3, abs=0.01)
    assert _wait_for(lambda: "SLEEP-CANCELLED" in sdk_client.stderr_tail)
    assert sdk_client.call_tool("add", {"a": 1, "b": 2}).text == "3"


def test_concurrent_calls_from_eight_threads(sdk_client: MCPClient) -> None:
    def work(worker: int) -> list[tuple[int, int]]:
        out = []
        for i in range(50):
            result = sdk_client.call_tool("add", {"a": worker * 1000, "b": i})
            out.append((worker * 1000 + i, int(result.text)))
        return out

    with ThreadPoolExecutor(8) as pool:
        results = [pair for chunk in pool.map(work, range(8)) for pair in chunk]
    assert len(results) == 400
    assert all(expected == got for expected, got in results)


def test_killed_server_fails_in_flight_calls_within_a_second(sdk_client: MCPClient) -> None:
    errors: list[BaseException] = []
    failed_at: list[float] = []
    running = threading.Semaphore(0)

    def call() -> None:
        reported = threading.Event()

        def on_progress(_: Progress) -> None:
            if not reported.is_set():
                reported.set()
                running.release()

        try:
            sdk_client.call_tool("sleep", {"seconds": 30}, timeout=60, on_progress=on_progress)
        except BaseException as exc:
            failed_at.append(time.monotonic())
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(5)]
    for t in threads:
        t.start()
    for _ in threads:  # every call is running on the server (it reported progress)
        assert running.acquire(timeout=10)
    pid = sdk_client.pid
    assert pid is not None
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    for t in threads:
        t.join(timeout=5)
    assert len(errors) == 5
    assert all(isinstance(e, ServerExitedError) for e in errors)
    assert max(failed_at) - killed_at < 1.0
    exited = errors[0]
    assert isinstance(exited, ServerExitedError)
    assert exited.exit_code == -signal.SIGKILL
    assert "SIGKILL" in str(exited)
    # No restart option: later calls fail too (the breaker opened after 5 failures).
    with pytest.raises((ServerExitedError, CircuitOpenError)):
        sdk_client.call_tool("add", {"a": 1, "b": 2})


def test_exit_error_names_code_and_stderr(sdk_client: MCPClient) -> None:
    with pytest.raises(ServerExitedError) as info:
        sdk_client.call_tool("die", {"code": 7})
    assert info.value.exit_code == 7
    assert "dying with 7" in info.value.stderr_tail
    assert "exit code 7" in str(info.value) and "dying with 7" in str(info.value)
    assert isinstance(info.value, ConnectionLostError)


def test_restart_on_exit(sdk_cmd: list[str], era: str) -> None:
    with MCPClient.stdio(sdk_cmd, era=era, restart_on_exit=True) as client:
        first = int(client.call_tool("pid").text)
        with pytest.raises(ServerExitedError):
            client.call_tool("die", {"code": 1})  # not idempotent: not retried
        second = int(client.call_tool("pid").text)
        assert second != first
        assert client.pid == second


def test_idempotent_call_is_retried_after_restart(sdk_cmd: list[str]) -> None:
    with MCPClient.stdio(sdk_cmd, era="legacy", restart_on_exit=True) as client:
        pid = client.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        # add is annotated readOnlyHint: a lost connection is retried on a new process.
        assert _wait_for(lambda: client._session is None or client._session.dispatcher.lost)
        assert client.call_tool("add", {"a": 1, "b": 2}).text == "3"
        assert client.pid != pid


def test_close_is_idempotent_and_stops_the_process(sdk_cmd: list[str]) -> None:
    client = MCPClient.stdio(sdk_cmd, era="legacy").connect()
    pid = client.pid
    assert pid is not None
    before = {t.ident for t in threading.enumerate()}
    client.close()
    client.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(UsageError):
        client.list_tools()
    assert _wait_for(
        lambda: (
            not any(
                t.name.startswith(("mcp-stdio", "mcp-callback", "mcp-notify"))
                for t in threading.enumerate()
                if t.ident in before
            )
        )
    )


def test_minimal_environment(sdk_cmd: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCCLIENTS_SECRET_TEST", "leak")
    with MCPClient.stdio(sdk_cmd, era="legacy", env={"EXTRA_VAR": "yes"}) as client:
        assert client.call_tool("get_env", {"name": "SYNCCLIENTS_SECRET_TEST"}).text == "<unset>"
        assert client.call_tool("get_env", {"name": "EXTRA_VAR"}).text == "yes"
        assert client.call_tool("get_env", {"name": "PATH"}).text == os.environ["PATH"]


def test_missing_program_is_a_connect_error(tmp_path: Path) -> None:
    client = MCPClient.stdio([str(tmp_path / "no-such-server")], breaker=None)
    with pytest.raises(ConnectError) as info:
        client.list_tools()
    assert "no-such-server" in str(info.value)
    client.close()


def test_called_from_inside_a_running_event_loop(sdk_cmd: list[str], era: str) -> None:
    async def main() -> str:
        with MCPClient.stdio(sdk_cmd, era=era) as client:
            return client.call_tool("add", {"a": 20, "b": 22}).text

    assert asyncio.run(main()) == "42"


def test_client_side_validation(sdk_cmd: list[str]) -> None:
    with MCPClient.stdio(sdk_cmd, era="legacy", validate_arguments=True) as client:
        with pytest.raises(ToolArgumentsError) as info:
            client.call_tool("add", {"a": "x", "b": 1})
        assert "a" in str(info.value)
        assert client.call_tool("add", {"a": 1, "b": 2}).text == "3"


def test_from_config(sdk_cmd: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SC_TEST_VALUE", "from-env")
    config = tmp_path / "mcp.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "sdk": {
                        "command": sdk_cmd[0],
                        "args": sdk_cmd[1:],
                        "env": {"EXTRA_VAR": "${SC_TEST_VALUE}"},
                    },
                    "remote": {"type": "http", "url": "http://127.0.0.1:1/mcp"},
                }
            }
        )
    )
    with MCPClient.from_config("sdk", config, era="legacy") as client:
        assert client.target == "sdk"
        assert client.call_tool("get_env", {"name": "EXTRA_VAR"}).text == "from-env"
    remote = MCPClient.from_config("remote", config)  # a url entry: Streamable HTTP
    assert remote.target == "remote"
    with pytest.raises(ConnectError):  # nothing listens on port 1
        remote.connect()
    remote.close()
    with pytest.raises(UsageError):
        MCPClient.from_config("missing", config)


def test_call_tool_latency(
    sdk_cmd: list[str], era: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with MCPClient.stdio(sdk_cmd, era=era) as client:
        for _ in range(20):
            client.call_tool("add", {"a": 1, "b": 2})
        samples = []
        for i in range(200):
            started = time.perf_counter()
            assert client.call_tool("add", {"a": i, "b": 1}).text == str(i + 1)
            samples.append(time.perf_counter() - started)
    median_ms = statistics.median(samples) * 1000
    p95_ms = sorted(samples)[int(len(samples) * 0.95)] * 1000
    with capsys.disabled():
        print(
            f"\n[latency] call_tool over stdio, era={era}: median {median_ms:.2f} ms, "
            f"p95 {p95_ms:.2f} ms (200 calls)"
        )
    assert median_ms < 100
