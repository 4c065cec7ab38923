"""Era negotiation, envelope, input-required, callbacks, over MockTransport."""

from __future__ import annotations

import pytest
from mcp_fakes import FakeServer

from syncclients.errors import (
    InputRequiredLimitError,
    MCPError,
    MissingClientCapabilityError,
    UnsupportedProtocolVersionError,
)
from syncclients.mcp import ElicitResult, MCPClient
from syncclients.mcp.messages import ErrorObject, Request
from syncclients.mcp.session import META_CLIENT_CAPABILITIES, META_PROTOCOL_VERSION


def test_auto_falls_back_to_initialize_on_method_not_found(make_client) -> None:
    server = FakeServer()
    client, transport = make_client(server)
    assert client.era == "legacy"
    assert client.protocol_version == "2025-11-25"
    assert client.server_info.name == "fake" and client.instructions == "hi"
    assert server.methods() == ["server/discover", "initialize"]
    assert transport.sent[-1].method == "notifications/initialized"
    init = server.requests[1]
    assert init.params == {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "syncclients", "version": "0.1.0"},
    }


def test_legacy_verdict_is_cached_for_the_same_server(make_client) -> None:
    server = FakeServer()
    make_client(server)
    make_client(server)  # same MockTransport key? MockTransport has no key: probes again
    assert server.methods().count("server/discover") == 2


def test_auto_adopts_modern_discover(make_client) -> None:
    server = FakeServer(modern=True)
    client, transport = make_client(server, elicitation=lambda r: ElicitResult("cancel"))
    assert client.era == "modern" and client.protocol_version == "2026-07-28"
    assert client.server_info.name == "fake-modern"
    assert client.capabilities.tools_list_changed
    client.list_tools()
    listed = server.requests[-1]
    meta = listed.params["_meta"]
    assert meta[META_PROTOCOL_VERSION] == "2026-07-28"
    assert meta[META_CLIENT_CAPABILITIES] == {"elicitation": {"form": {}, "url": {}}}
    assert transport.contexts[-1].modern and transport.contexts[-1].method == "tools/list"
    assert "initialize" not in server.methods()


def test_discover_without_modern_version_falls_back(make_client) -> None:
    server = FakeServer()
    server.handlers["server/discover"] = lambda r: {"supportedVersions": ["2025-11-25"]}
    client, _ = make_client(server)
    assert client.era == "legacy"


def test_32022_with_mutual_version_retries_once(make_client) -> None:
    server = FakeServer(modern=True)
    modern_answer = server.handlers["server/discover"]
    calls = []

    def discover(r: Request):
        calls.append(r.params["_meta"][META_PROTOCOL_VERSION])
        if len(calls) == 1:
            return ErrorObject(
                -32022, "unsupported", {"supported": ["2026-07-28"], "requested": "2026-07-28"}
            )
        return modern_answer(r)

    server.handlers["server/discover"] = discover
    client, _ = make_client(server)
    assert client.era == "modern"
    assert len(calls) == 2


def test_32022_modern_only_disjoint_fails(make_client) -> None:
    server = FakeServer()
    server.handlers["server/discover"] = lambda r: ErrorObject(
        -32022, "unsupported", {"supported": ["2099-01-01"], "requested": "2026-07-28"}
    )
    with pytest.raises(UnsupportedProtocolVersionError) as info:
        make_client(server)
    assert info.value.supported == ("2099-01-01",)
    assert "initialize" not in server.methods()


def test_initialize_32022_triggers_one_reprobe(make_client) -> None:
    server = FakeServer(modern=True)
    modern_answer = server.handlers["server/discover"]
    probes = []

    def discover(r: Request):
        probes.append(r)
        return ErrorObject(-32603, "slow start") if len(probes) == 1 else modern_answer(r)

    server.handlers["server/discover"] = discover
    server.handlers["initialize"] = lambda r: ErrorObject(
        -32022, "locked modern", {"supported": ["2026-07-28"]}
    )
    client, _ = make_client(server)
    assert client.era == "modern"
    assert server.methods() == ["server/discover", "initialize", "server/discover"]


def test_unsupported_initialize_version_disconnects(make_client) -> None:
    server = FakeServer()
    server.handlers["initialize"] = lambda r: {
        "protocolVersion": "1999-01-01",
        "capabilities": {},
        "serverInfo": {"name": "x"},
    }
    with pytest.raises(UnsupportedProtocolVersionError):
        make_client(server, era="legacy")


def test_forced_modern_against_legacy_server_fails(make_client) -> None:
    with pytest.raises(MCPError) as info:
        make_client(FakeServer(), era="2026-07-28")
    assert info.value.code == -32601


def test_input_required_rounds_use_callbacks(make_client) -> None:
    server = FakeServer(modern=True)
    seen = []

    def call(r: Request):
        params = r.params
        seen.append(params)
        if "inputResponses" not in params:
            return {
                "resultType": "input_required",
                "inputRequests": {
                    "who": {
                        "method": "elicitation/create",
                        "params": {"message": "name?", "requestedSchema": {}},
                    },
                    "roots": {"method": "roots/list", "params": {}},
                },
                "requestState": "opaque-1",
            }
        return {
            "content": [{"type": "text", "text": repr(params["inputResponses"])}],
            "resultType": "complete",
        }

    server.handlers["tools/call"] = call
    client, _ = make_client(
        server,
        elicitation=lambda r: ElicitResult("accept", {"name": r.message}),
        roots=lambda: ["file:///a"],
    )
    result = client.call_tool("t", {"x": 1})
    assert seen[1]["requestState"] == "opaque-1"
    assert seen[1]["arguments"] == {"x": 1}
    assert seen[1]["inputResponses"] == {
        "who": {"action": "accept", "content": {"name": "name?"}},
        "roots": {"roots": [{"uri": "file:///a"}]},
    }
    assert "accept" in result.text


def test_input_required_is_bounded(make_client) -> None:
    server = FakeServer(modern=True)
    server.handlers["tools/call"] = lambda r: {
        "resultType": "input_required",
        "inputRequests": {"k": {"method": "elicitation/create", "params": {"message": "m"}}},
        "requestState": "s",
    }
    client, _ = make_client(server, elicitation=lambda r: ElicitResult("decline"))
    with pytest.raises(InputRequiredLimitError) as info:
        client.call_tool("t")
    assert info.value.max_rounds == 10
    assert server.methods().count("tools/call") == 11


def test_missing_capability_error_is_typed(make_client) -> None:
    server = FakeServer(modern=True)
    server.handlers["tools/call"] = lambda r: ErrorObject(
        -32021, "needs elicitation", {"requiredCapabilities": {"elicitation": {}}}
    )
    client, _ = make_client(server)
    with pytest.raises(MissingClientCapabilityError) as info:
        client.call_tool("t")
    assert info.value.required_capabilities == {"elicitation": {}}


def test_input_request_without_callback_fails_as_mcp_error(make_client) -> None:
    server = FakeServer(modern=True)
    server.handlers["tools/call"] = lambda r: {
        "resultType": "input_required",
        "inputRequests": {"k": {"method": "sampling/createMessage", "params": {}}},
    }
    client, _ = make_client(server)
    with pytest.raises(MCPError) as info:
        client.call_tool("t")
    assert info.value.code == -32601


def test_client_is_built_lazily_and_validates_era() -> None:
    with pytest.raises(ValueError):
        MCPClient(lambda: None, era="2030-01-01")  # type: ignore[arg-type,return-value]
