"""JSON-RPC encode/decode: round trips, and malformed input is always a ProtocolError."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncclients.errors import ProtocolError, UsageError
from syncclients.mcp.messages import (
    ErrorObject,
    ErrorResponse,
    Notification,
    Request,
    Response,
    decode,
    encode,
)


@pytest.mark.parametrize(
    "message",
    [
        Request(1, "tools/call", {"name": "x", "arguments": {"s": "a\nb ✅"}}),
        Request("abc", "ping"),
        Notification("notifications/initialized"),
        Notification("notifications/progress", {"progressToken": "p1", "progress": 1}),
        Response(7, {"content": []}),
        ErrorResponse(3, ErrorObject(-32602, "bad", {"x": 1})),
        ErrorResponse(None, ErrorObject(-32700, "parse error")),
    ],
)
def test_round_trip(message: object) -> None:
    data = encode(message)  # type: ignore[arg-type]
    assert b"\n" not in data
    assert decode(data) == [message]


def test_batch_is_decoded_in_order() -> None:
    data = json.dumps(
        [
            {"jsonrpc": "2.0", "id": 1, "result": {}},
            {"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info"}},
        ]
    )
    assert [type(m) for m in decode(data)] == [Response, Notification]


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe",
        b"not json",
        b"[]",
        b"42",
        b'{"id": 1, "result": {}}',
        b'{"jsonrpc": "2.0", "id": null, "method": "x"}',
        b'{"jsonrpc": "2.0", "id": true, "result": {}}',
        b'{"jsonrpc": "2.0", "id": 1, "result": []}',
        b'{"jsonrpc": "2.0", "id": 1, "result": {}, "error": {}}',
        b'{"jsonrpc": "2.0", "id": 1, "error": {"code": "x", "message": "m"}}',
        b'{"jsonrpc": "2.0", "method": 5}',
        b'{"jsonrpc": "2.0", "method": "x", "params": [1]}',
        b'{"jsonrpc": "2.0", "id": 1}',
        b"[" * 100000,
    ],
)
def test_malformed_is_protocol_error(raw: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        decode(raw)
    assert len(info.value.excerpt) <= 515


@given(st.binary(max_size=200))
def test_fuzz_bytes_never_raise_foreign_errors(raw: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decode(raw)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
    )
)
def test_fuzz_json_never_raises_foreign_errors(value: object) -> None:
    with contextlib.suppress(ProtocolError):
        decode(json.dumps(value))


def test_unencodable_params_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        encode(Request(1, "x", {"v": object()}))
    with pytest.raises(UsageError):
        encode(Request(1, "x", {"v": float("nan")}))
