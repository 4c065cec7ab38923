"""The agent loop against fake provider servers scripted to ask for tool calls, with real
MCP servers as the tools."""

from __future__ import annotations

import json
import time

import pytest

from syncclients import MCPGroup, ReadTimeout, UsageError
from syncclients.agent import (
    AgentTool,
    FinalEvent,
    ModelTurnEvent,
    ToolCallFinished,
    ToolCallRecord,
    ToolCallStarted,
    collect_tools,
    iter_agent,
    provider_name,
    run_agent,
)
from syncclients.llm import GeminiProvider, LLMRouter
from syncclients.llm.schema import gemini_legacy_schema, openai_strict_schema
from syncclients.mcp import MCPClient
from syncclients.mcp.types import Tool as MCPTool
from syncclients.testing.llm_server import Answer, Fault
from tests.llm.conftest import FAST_RETRY, KEYS


def ask(*calls: tuple[str, dict]) -> Answer:
    return Answer(text="", tool_calls=tuple(calls))


def test_parallel_calls_reach_three_real_servers(llm, group: MCPGroup) -> None:
    server, provider = llm("openai")
    server.script(
        ask(
            ("sdk__sleep", {"seconds": 1.0}),
            ("sdk__sleep", {"seconds": 1.0}),
            ("time__get_current_time", {"timezone": "UTC"}),
            ("everything__get-sum", {"a": 2, "b": 3}),
        ),
        Answer(text="All done."),
    )
    events: list = []
    stamps: list[float] = []

    def on_event(event: object) -> None:
        events.append(event)
        stamps.append(time.monotonic())

    result = run_agent(
        provider, group, [{"role": "user", "content": "go"}], on_event=on_event, deadline_s=30
    )
    assert result.stop_reason == "final" and result.text == "All done." and result.turns == 2
    assert [r.status for r in result.tool_calls] == ["ok"] * 4
    assert [r.server for r in result.tool_calls] == ["sdk", "sdk", "time", "everything"]
    # the two 1 s sleeps ran at once: the turn's tool phase took less than their sum
    assert min(r.duration_s for r in result.tool_calls[:2]) >= 0.95
    assert stamps[-2] - stamps[0] < 1.8
    assert "5" in result.tool_calls[3].result_text
    assert result.usage.input_tokens == 20 and result.usage.output_tokens == 10
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "ModelTurnEvent" and kinds[-1] == "FinalEvent"
    assert kinds.count("ToolCallStarted") == 4 and kinds.count("ToolCallFinished") == 4
    # finished events come as calls end: the quick calls before the 1 s sleeps
    finished = [e.record.name for e in events if isinstance(e, ToolCallFinished)]
    assert finished[2:] == ["sdk__sleep", "sdk__sleep"]
    # each result went back to the model as a tool message answering its call
    sent = server.chat_requests()[1].body["messages"]
    tool_msgs = [m for m in sent if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_msgs] == ["call_0", "call_1", "call_2", "call_3"]
    assert json.loads(tool_msgs[0]["content"]) == {"result": "slept"}  # structuredContent
    tools_sent = server.chat_requests()[0].body["tools"]
    names = {t["function"]["name"] for t in tools_sent}
    assert {"sdk__add", "time__get_current_time", "everything__get-sum"} <= names
    add = next(t for t in tools_sent if t["function"]["name"] == "sdk__add")["function"]
    assert add["strict"] is True and add["parameters"]["additionalProperties"] is False


def test_failing_and_unknown_tools_go_back_as_errors(llm, sdk: MCPClient) -> None:
    server, provider = llm("anthropic")
    server.script(
        ask(("fail", {"message": "boom"}), ("nope", {}), ("add", {"a": 1, "b": 2})),
        Answer(text="Handled."),
    )
    result = run_agent(provider, sdk, [{"role": "user", "content": "go"}], deadline_s=30)
    assert result.text == "Handled."
    statuses = [r.status for r in result.tool_calls]
    assert statuses == ["tool_error", "unknown_tool", "ok"]
    assert "fail" in result.tool_calls[0].result_text  # the SDK server's own error text
    assert result.tool_calls[0].result_text.startswith("Error:")
    assert result.tool_calls[1].duration_s == 0.0
    blocks = server.chat_requests()[1].body["messages"][-1]["content"]
    results = [b for b in blocks if b["type"] == "tool_result"]
    assert [b["tool_use_id"] for b in results] == ["toolu_00", "toolu_01", "toolu_02"]
    assert json.loads(results[2]["content"]) == {"result": 3}
    assert [b.get("is_error", False) for b in results] == [True, True, False]


def test_refused_approval_is_told_to_the_model_and_read_only_tools_are_not_asked(
    llm, sdk: MCPClient
) -> None:
    server, provider = llm("openai")
    server.script(ask(("echo", {"text": "hi"}), ("add", {"a": 1, "b": 1})), Answer(text="ok"))
    asked: list[ToolCallRecord] = []

    def approve(call: ToolCallRecord) -> bool:
        asked.append(call)
        return False

    result = run_agent(provider, sdk, [{"role": "user", "content": "go"}], approve=approve)
    assert [c.tool for c in asked] == ["echo"]  # add is annotated readOnlyHint
    assert [r.status for r in result.tool_calls] == ["refused", "ok"]
    sent = server.chat_requests()[1].body["messages"]
    assert "refused" in sent[-2]["content"] and json.loads(sent[-1]["content"]) == {"result": 2}


def test_a_model_that_never_stops_ends_at_max_turns(llm, sdk: MCPClient) -> None:
    server, provider = llm("gemini")
    server.answer = ask(("add", {"a": 1, "b": 1}))
    result = run_agent(provider, sdk, [{"role": "user", "content": "go"}], max_turns=3)
    assert result.stop_reason == "max_turns" and result.turns == 3 and result.text == ""
    assert len(result.tool_calls) == 3 and len(server.chat_requests()) == 3


def test_gemini_gets_errors_as_function_response_errors(llm, sdk: MCPClient) -> None:
    server, provider = llm("gemini")
    server.script(ask(("fail", {"message": "x"}), ("add", {"a": 1, "b": 2})), Answer(text="k"))
    run_agent(provider, sdk, [{"role": "user", "content": "go"}])
    parts = server.chat_requests()[1].body["contents"][-1]["parts"]
    responses = [p["functionResponse"]["response"] for p in parts]
    assert "error" in responses[0] and "result" in responses[1]


def test_the_deadline_bounds_a_stalled_tool_call(llm, sdk: MCPClient) -> None:
    server, provider = llm("openai")
    server.answer = ask(("sleep", {"seconds": 20}))
    t0 = time.monotonic()
    result = run_agent(provider, sdk, [{"role": "user", "content": "go"}], deadline_s=1.5)
    elapsed = time.monotonic() - t0
    assert result.stop_reason == "deadline"
    # the call's own timeout was capped at what remained of the loop's deadline: it ended
    # by itself (and was cancelled on the server) before the batch had to mark it
    call = result.tool_calls[0]
    assert call.status == "error" and isinstance(call.error, ReadTimeout)
    assert "cancelled on the server" in call.result_text
    assert 1.0 < call.duration_s < 1.6 and result.turns == 1
    assert elapsed < 3.0


@pytest.mark.parametrize("flavor", ["openai", "azure", "anthropic", "gemini"])
def test_each_provider_end_to_end(llm, sdk: MCPClient, flavor: str) -> None:
    server, provider = llm(flavor)
    server.script(ask(("add", {"a": 20, "b": 22})), Answer(text="It is 42."))
    events = list(iter_agent(provider, sdk, [{"role": "user", "content": "20+22?"}]))
    assert isinstance(events[0], ModelTurnEvent)
    assert isinstance(events[1], ToolCallStarted) and isinstance(events[2], ToolCallFinished)
    assert isinstance(events[-1], FinalEvent)
    result = events[-1].result
    assert result.text == "It is 42." and result.tool_calls[0].result_text == '{"result": 42}'
    assert "42" in json.dumps(server.chat_requests()[1].body)


def test_images_and_truncation(llm, group: MCPGroup) -> None:
    server, provider = llm("openai")
    server.script(
        ask(("everything__get-tiny-image", {}), ("everything__echo", {"message": "x" * 500})),
        Answer(text="seen"),
    )
    result = run_agent(provider, group, [{"role": "user", "content": "go"}], max_result_chars=100)
    assert "[truncated: 100 of" in result.tool_calls[1].result_text
    last = server.chat_requests()[1].body["messages"][-1]
    assert last["role"] == "user"
    assert last["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_provider_names_are_valid_stable_and_distinct() -> None:
    assert provider_name("server__tool") == "server__tool"
    dotted = provider_name("srv__ns.tool", "openai")
    assert dotted.startswith("srv__ns_tool_") and dotted == provider_name("srv__ns.tool")
    assert provider_name("srv__ns.tool", "gemini") == "srv__ns.tool"
    long = provider_name("s" * 40 + "__" + "t" * 40)
    assert len(long) == 64 and long != provider_name("s" * 40 + "__" + "t" * 39 + "u")
    assert provider_name("9lives")[0] == "_"


def test_sources_are_qualified_and_duplicates_are_an_error(
    sdk: MCPClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = list(collect_tools([sdk, sdk]))
    assert "s0__add" in names and "s1__add" in names
    assert "mine__echo" in collect_tools({"mine": sdk})
    tool = sdk.list_tools()[0]
    monkeypatch.setattr(sdk, "list_tools", lambda **_kw: [tool, tool])  # a server listing twice
    with pytest.raises(UsageError, match="two tools"):
        collect_tools(sdk)


def test_schema_conversion() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"a": {"type": "integer"}, "p": {"$ref": "#/$defs/P"}},
        "required": ["a"],
        "$defs": {
            "P": {
                "type": "object",
                "properties": {"x": {"const": 1}},
                "additionalProperties": False,
            }
        },
    }
    strict = openai_strict_schema(schema)
    assert strict is not None and strict["required"] == ["a", "p"]
    assert strict["properties"]["p"]["type"] == ["object", "null"]
    assert "$defs" not in strict and "$schema" not in strict
    assert openai_strict_schema({"type": "object", "additionalProperties": True}) is None
    legacy = gemini_legacy_schema(schema)
    assert legacy["properties"]["p"]["properties"]["x"] == {"enum": [1]}
    assert "additionalProperties" not in legacy["properties"]["p"] and "$schema" not in legacy
    with pytest.raises(UsageError):
        gemini_legacy_schema(
            {"$ref": "#/$defs/L", "$defs": {"L": {"items": {"$ref": "#/$defs/L"}}}}
        )


def test_a_router_fails_over_mid_loop_and_keeps_the_conversation(llm, sdk: MCPClient) -> None:
    claude, first = llm("anthropic")
    gpt, second = llm("openai")
    claude.answer = ask(("add", {"a": 2, "b": 2}))
    gpt.answer = Answer(text="four")

    def overload_after_first_turn(event: object) -> None:
        if isinstance(event, ModelTurnEvent):
            claude.always = Fault(status=529)  # Anthropic "overloaded" from now on

    router = LLMRouter([first, second], max_attempts=4)
    result = run_agent(
        router,
        sdk,
        [{"role": "user", "content": "2+2"}],
        deadline_s=30,
        on_event=overload_after_first_turn,
    )
    assert result.turns == 2 and result.tool_calls[0].status == "ok"
    assert result.text == "four" and result.stop_reason == "final"
    # the Anthropic call id (toolu_00) reached OpenAI with its result
    sent = gpt.chat_requests()[0].body["messages"]
    assert sent[-1] == {"role": "tool", "tool_call_id": "toolu_00", "content": '{"result": 4}'}


def test_gemini_legacy_parameters_field(llm, sdk: MCPClient) -> None:
    server, _provider = llm("gemini")
    legacy = GeminiProvider(
        model="fake-model",
        api_key=KEYS["gemini"],
        base_url=server.base_url,
        retry=FAST_RETRY,
        hooks=(),
        legacy_tool_schema=True,
    )
    try:
        server.answer = Answer(text="no tools needed")
        assert run_agent(legacy, sdk, [{"role": "user", "content": "hi"}]).text == "no tools needed"
    finally:
        legacy.close()
    decls = server.chat_requests()[0].body["tools"][0]["functionDeclarations"]
    add = next(d for d in decls if d["name"] == "add")
    assert "parameters" in add and "parametersJsonSchema" not in add
    assert "additionalProperties" not in json.dumps(decls)


def test_nulls_for_optional_arguments_are_dropped(sdk: MCPClient) -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": ["string", "null"]}},
        "required": [],
    }
    tool = AgentTool("t", None, MCPTool("t", schema), sdk)
    assert tool.arguments_for({"a": None, "b": None, "c": None}) == {"b": None, "c": None}
    assert tool.arguments_for({"a": 1}) == {"a": 1}
