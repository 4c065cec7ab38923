"""The incremental SSE parser: WHATWG "Parsing an event stream", property-based and by example."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncclients.errors import ProtocolError, UsageError
from syncclients.transports.sse import SSEEvent, SSEParser

# -- a straightforward reference: the whole body at once ---------------------------------------


def reference(body: bytes) -> tuple[list[SSEEvent], str, int | None]:
    """Parse a complete body the obvious way (WHATWG, plus the empty-data rule)."""
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    pieces = re.split(rb"\r\n|\r|\n", body)
    lines = pieces[:-1]  # the last piece has no line end: an incomplete line is discarded
    events: list[SSEEvent] = []
    data: list[str] = []
    etype = ""
    id_buf = ""
    last_id = ""
    retry: int | None = None
    for raw in lines:
        line = raw.decode("utf-8", "replace")
        if line == "":
            last_id = id_buf
            text = "\n".join(data)
            if text:
                events.append(SSEEvent(etype or "message", text, last_id))
            data, etype = [], ""
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            etype = value
        elif name == "id":
            if "\x00" not in value:
                id_buf = value
        elif name == "retry" and re.fullmatch("[0-9]+", value):
            retry = int(value)
    return events, last_id, retry


def parse_chunks(chunks: list[bytes], **kwargs: int | None) -> tuple[list[SSEEvent], SSEParser]:
    parser = SSEParser(**kwargs)  # type: ignore[arg-type]
    events: list[SSEEvent] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    return events, parser


def split_at(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(body) + 1) for c in cuts})
    chunks, prev = [], 0
    for p in points:
        chunks.append(body[prev:p])
        prev = p
    chunks.append(body[prev:])
    return chunks


# Bytes biased towards SSE structure, so the properties exercise real events.
sse_atoms = st.sampled_from(
    [
        b"\r",
        b"\n",
        b"\r\n",
        b":",
        b": ",
        b"data",
        b"data:",
        b"data: ",
        b"event:",
        b"id:",
        b"id: 7",
        b"retry:",
        b"retry: 1500",
        b"\x00",
        b"\xef\xbb\xbf",
        b"\xe2\x9c\x85",
        b"\xe2\x9c",
        b"\xc2\x85",
        b"message",
        b"{}",
        b" ",
    ]
)
sse_bytes = st.one_of(
    st.binary(max_size=300),
    st.lists(st.one_of(sse_atoms, st.binary(max_size=4)), max_size=80).map(b"".join),
)
cut_points = st.lists(st.integers(min_value=0, max_value=10_000), max_size=30)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=sse_bytes, cuts=cut_points)
def test_chunking_never_changes_the_events(body: bytes, cuts: list[int]) -> None:
    whole, whole_parser = parse_chunks([body])
    split, split_parser = parse_chunks(split_at(body, cuts))
    assert split == whole
    assert split_parser.last_event_id == whole_parser.last_event_id
    assert split_parser.retry_ms == whole_parser.retry_ms


@settings(max_examples=300, deadline=None)
@given(body=sse_bytes)
def test_matches_the_reference_parser(body: bytes) -> None:
    events, parser = parse_chunks([body])
    ref_events, ref_last_id, ref_retry = reference(body)
    assert events == ref_events
    assert parser.last_event_id == ref_last_id
    assert parser.retry_ms == ref_retry


@settings(max_examples=300, deadline=None)
@given(body=sse_bytes, cuts=cut_points, limit=st.integers(min_value=1, max_value=40))
def test_arbitrary_bytes_raise_only_protocol_error(
    body: bytes, cuts: list[int], limit: int
) -> None:
    outcomes = []
    for chunks in ([body], split_at(body, cuts), [bytes([b]) for b in body]):
        try:
            events, _ = parse_chunks(chunks, max_event_bytes=limit)
            outcomes.append(("ok", events))
        except ProtocolError:
            outcomes.append(("error", None))
    # the bound is a property of the body, not of how it was chunked
    assert len({kind for kind, _ in outcomes}) == 1
    if outcomes[0][0] == "ok":
        assert outcomes[0] == outcomes[1] == outcomes[2]


@settings(max_examples=200, deadline=None)
@given(body=sse_bytes)
def test_one_byte_at_a_time(body: bytes) -> None:
    whole, _ = parse_chunks([body])
    single, _ = parse_chunks([bytes([b]) for b in body])
    assert single == whole


# -- examples ----------------------------------------------------------------------------------


def test_lf_crlf_and_cr_line_ends_are_equivalent() -> None:
    for end in (b"\n", b"\r\n", b"\r"):
        body = end.join([b"event: message", b'data: {"a":1}', b"", b""])
        events, _ = parse_chunks([body])
        assert events == [SSEEvent("message", '{"a":1}', "")], end


def test_cr_at_a_chunk_boundary_followed_by_lf_is_one_line_end() -> None:
    events, _ = parse_chunks([b"data: x\r", b"\ndata: y\r", b"\n\r", b"\n"])
    assert events == [SSEEvent("message", "x\ny", "")]
    # and a CR at the boundary not followed by LF still ends the line
    events, _ = parse_chunks([b"data: x\r", b"data: y\r", b"\r"])
    assert events == [SSEEvent("message", "x\ny", "")]


def test_multi_line_data_is_joined_with_newlines() -> None:
    events, _ = parse_chunks([b"data: first\ndata:second\ndata:  third\n\n"])
    assert events == [SSEEvent("message", "first\nsecond\n third", "")]


def test_comments_are_ignored() -> None:
    events, _ = parse_chunks([b": ping\n\n:keepalive\ndata: x\n: inside\n\n"])
    assert events == [SSEEvent("message", "x", "")]


def test_priming_event_records_its_id_without_dispatching() -> None:
    events, parser = parse_chunks([b"id: 0_abc\ndata: \n\n"])
    assert events == []
    assert parser.last_event_id == "0_abc"
    assert parser.has_event_id
    events, parser = parse_chunks([b"id: e1\n\nevent: message\nid: e2\ndata: {}\n\n"])
    assert events == [SSEEvent("message", "{}", "e2")]


def test_id_is_sticky_and_nul_ids_are_ignored() -> None:
    events, parser = parse_chunks(
        [b"id: 1\ndata: a\n\ndata: b\n\nid: bad\x00id\ndata: c\n\nid\ndata: d\n\n"]
    )
    assert [(e.data, e.id) for e in events] == [("a", "1"), ("b", "1"), ("c", "1"), ("d", "")]
    assert parser.last_event_id == ""


def test_retry_accepts_only_ascii_digits() -> None:
    _, parser = parse_chunks([b"retry: 1500\n\n"])
    assert parser.retry_ms == 1500
    _, parser = parse_chunks([b"retry: 15x\nretry: -1\nretry: \xc2\xb2\nretry:\n\n"])
    assert parser.retry_ms is None
    _, parser = parse_chunks([b"retry: 10\nretry: nope\n"])
    assert parser.retry_ms == 10


def test_check_mark_survives_and_u0085_is_not_a_line_end() -> None:
    payload = '{"text":"done ✅ \u0085 ok"}'.encode()
    body = b"event: message\r\ndata: " + payload + b"\r\n\r\n"
    for cut in range(len(body) + 1):
        events, _ = parse_chunks([body[:cut], body[cut:]])
        assert events == [SSEEvent("message", payload.decode(), "")]


def test_leading_bom_is_skipped_even_when_split() -> None:
    body = b"\xef\xbb\xbfdata: x\n\n"
    for cut in range(4):
        events, _ = parse_chunks([body[:cut], body[cut:]])
        assert events == [SSEEvent("message", "x", "")]
    # only one leading BOM: a second one is part of the field name, which is then unknown
    events, _ = parse_chunks([b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n"])
    assert events == []


def test_event_type_and_field_without_colon() -> None:
    events, _ = parse_chunks([b"event: endpoint\ndata: /messages/?s=1\n\ndata\n\n"])
    assert events == [SSEEvent("endpoint", "/messages/?s=1", "")]


def test_incomplete_event_at_end_of_stream_is_not_dispatched() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: {}\n") == []
    assert parser.pending
    parser.close()
    assert not parser.pending
    assert parser.feed(b"\n") == []


def test_invalid_utf8_is_replaced_not_raised() -> None:
    events, _ = parse_chunks([b"data: \xff\xfe\n\n"])
    assert events == [SSEEvent("message", "\ufffd\ufffd", "")]


def test_line_bound_raises_protocol_error() -> None:
    parser = SSEParser(max_event_bytes=16)
    with pytest.raises(ProtocolError, match="line exceeds"):
        parser.feed(b"data: " + b"x" * 20)  # no line end yet: the buffer alone exceeds it
    with pytest.raises(ProtocolError, match="line exceeds"):
        SSEParser(max_event_bytes=16).feed(b": " + b"x" * 20 + b"\n")


def test_event_bound_raises_protocol_error() -> None:
    parser = SSEParser(max_event_bytes=16)
    assert parser.feed(b"data: 12345\ndata: 1234\n") == []
    with pytest.raises(ProtocolError, match="data exceeds"):
        parser.feed(b"data: 123456\n")
    # exactly at the bound is fine: 3 values + 3 newlines = 16 bytes
    parser = SSEParser(max_event_bytes=16)
    assert parser.feed(b"data: 1234\ndata: 1234\ndata: 123\n\n") == [
        SSEEvent("message", "1234\n1234\n123", "")
    ]


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "10"])
def test_invalid_bound_is_a_usage_error(bad: object) -> None:
    with pytest.raises(UsageError):
        SSEParser(max_event_bytes=bad)  # type: ignore[arg-type]
