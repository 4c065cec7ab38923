"""Property tests: whatever bytes a peer sends, JSON-RPC decoding raises nothing but our
ProtocolError, and the stdio reader delivers only valid messages and never dies.

tests/unit/mcp/test_messages.py fuzzes raw bytes and arbitrary JSON; this adds JSON-RPC
shaped objects with hostile member values, mutations of valid messages, and the stdio reader
loop end to end. The SSE parser's own properties are in tests/unit/transports/test_sse.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncclients.errors import ProtocolError, TransportError
from syncclients.mcp.messages import (
    ErrorResponse,
    Message,
    Notification,
    Request,
    Response,
    decode,
    encode,
)
from syncclients.transports.stdio import StdioTransport

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
member = st.sampled_from(["jsonrpc", "id", "method", "params", "result", "error"])


@st.composite
def jsonrpc_shaped(draw: st.DrawFn) -> Any:
    """Objects that look like JSON-RPC messages, each member present or not, any value."""
    obj: dict[str, Any] = {}
    if draw(st.booleans()):
        obj["jsonrpc"] = draw(st.sampled_from(["2.0", "2.0", "1.0", 2.0, None]))
    for key in ("id", "method", "params", "result"):
        if draw(st.booleans()):
            obj[key] = draw(json_values)
    if draw(st.booleans()):
        err: Any = draw(
            st.fixed_dictionaries(
                {},
                optional={"code": json_values, "message": json_values, "data": json_values},
            )
            | json_values
        )
        obj["error"] = err
    if draw(st.booleans()):
        obj[draw(st.text(max_size=6))] = draw(json_values)
    return [obj] * draw(st.integers(1, 2)) if draw(st.booleans()) else obj


def _valid(message: Message) -> bool:
    """What decode promises about a message it returns."""
    if isinstance(message, Request):
        return isinstance(message.id, int | str) and not isinstance(message.id, bool)
    if isinstance(message, Notification):
        return isinstance(message.method, str) and (
            message.params is None or isinstance(message.params, dict)
        )
    if isinstance(message, Response):
        return isinstance(message.result, dict) and not isinstance(message.id, bool)
    return isinstance(message, ErrorResponse) and isinstance(message.error.code, int)


@given(jsonrpc_shaped())
def test_jsonrpc_shaped_objects_decode_or_raise_protocol_error(obj: Any) -> None:
    data = json.dumps(obj).encode()
    try:
        messages = decode(data)
    except ProtocolError as exc:
        error: ProtocolError | None = exc
        messages = []
    else:
        error = None
    if error is not None:
        assert len(error.excerpt) <= 515
        return
    assert messages
    assert all(_valid(m) for m in messages)


valid_messages = st.one_of(
    st.builds(
        Request, st.integers(0, 10**6) | st.text(min_size=1, max_size=5), st.text(max_size=10)
    ),
    st.builds(Notification, st.text(max_size=10)),
    st.builds(Response, st.integers(0, 10**6), st.just({"content": []})),
)


@given(
    valid_messages,
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=4),
    st.integers(0, 200),
)
def test_mutated_messages_decode_or_raise_protocol_error(
    message: Message, flips: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(encode(message))
    for pos, value in flips:
        data[pos % len(data)] = value
    data = data[: max(1, len(data) - cut % len(data))]
    try:
        messages = decode(bytes(data))
    except ProtocolError:
        return
    assert all(_valid(m) for m in messages)


@given(valid_messages)
def test_valid_messages_round_trip(message: Message) -> None:
    assert decode(encode(message)) == [message]


class _Sink:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.lost: list[TransportError] = []

    def message_received(self, message: Message) -> None:
        self.messages.append(message)

    def connection_lost(self, error: TransportError) -> None:
        self.lost.append(error)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=60)
@given(
    st.lists(
        st.binary(max_size=60)
        | st.builds(lambda m: encode(m), valid_messages)
        | st.builds(lambda o: json.dumps(o).encode(), jsonrpc_shaped()),
        max_size=8,
    ),
    st.sampled_from([b"\n", b"\r\n", b"\r", b""]),
)
def test_stdio_reader_survives_any_stdout(lines: list[bytes], end: bytes) -> None:
    """The reader thread's loop, fed arbitrary server stdout: it delivers only valid
    messages (stray lines are logged and skipped), never raises, and reaches end of file."""
    transport = StdioTransport(["unused"])
    sink = _Sink()
    transport._sink = sink
    stream = io.BytesIO(end.join(lines) + end)
    reader = threading.Thread(target=transport._read_stdout, args=(stream,))
    reader.start()
    reader.join(10)
    assert not reader.is_alive()
    assert transport._reader_done.is_set()
    assert all(_valid(m) for m in sink.messages)
    valid_lines = 0
    for line in b"\n".join(lines).split(b"\n"):
        with contextlib.suppress(ProtocolError):
            valid_lines += bool(line.strip()) and bool(decode(line.strip()))
    if end == b"\n":
        assert len(sink.messages) >= valid_lines
