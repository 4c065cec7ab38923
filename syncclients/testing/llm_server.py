"""Fake LLM provider servers on 127.0.0.1 that speak each wire format, with injected faults.

:class:`FakeLLMServer` answers as OpenAI (``/v1/chat/completions``), Azure OpenAI
(``/openai/deployments/{deployment}/chat/completions?api-version=...``), Anthropic
(``/v1/messages``, SSE events with ``input_json_delta``) or Gemini
(``/{version}/models/{model}:generateContent`` and ``:streamGenerateContent?alt=sse``), plus
each one's model listing. Point the real SDK at :attr:`FakeLLMServer.url` (``base_url``).

What it answers is an :class:`Answer` (text, tool calls, finish reason, a safety block);
:meth:`FakeLLMServer.push` queues :class:`Fault` values consumed one per chat request
(429 with a delay header, 529, 500, a slow first byte, a stream cut in the middle, a stall,
a malformed event), and :attr:`FakeLLMServer.always` applies one to every request. Every
request is recorded (:attr:`FakeLLMServer.requests`) so tests assert what the SDK sent.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

__all__ = ["Answer", "FakeLLMServer", "Fault", "LLMRequest"]

Flavor = Literal["openai", "azure", "anthropic", "gemini"]


@dataclass(frozen=True, slots=True)
class LLMRequest:
    """One request the fake server received.

    Attributes:
        method, path: as sent (path with its query).
        headers: the request headers, names lower-cased.
        body: the JSON body (None for GET or non-JSON).
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any


@dataclass(frozen=True, slots=True)
class Answer:
    """What the fake model answers.

    Attributes:
        text: the text (split into 3-character deltas when streamed).
        tool_calls: ``(name, arguments)`` pairs.
        finish: ``stop``, ``length``, ``tool_calls`` or ``content_filter`` (None: ``tool_calls``
            when there are calls, else ``stop``).
        blocked: Gemini: answer with ``promptFeedback.blockReason`` = this and no candidates.
    """

    text: str = "Hello from the fake model."
    tool_calls: tuple[tuple[str, dict[str, Any]], ...] = ()
    finish: str | None = None
    blocked: str | None = None


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault injected into one request.

    Attributes:
        status: answer with this HTTP error status (and ``headers``) in the flavor's error body.
        headers: response headers to add (``retry-after-ms``, ``retry-after``, reset headers).
        delay_s: wait this long before the first byte (then answer normally or with status).
        cut_after: in a stream, close the connection after this many events.
        stall_after: in a stream, stop sending for ``stall_s`` after this many events.
        stall_s: how long a stall lasts.
        malformed_after: in a stream, send an undecodable event after this many events (a
            non-stream answer becomes an undecodable body).
        error_body: a custom error body (JSON-able); default the flavor's shape.
    """

    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    cut_after: int | None = None
    stall_after: int | None = None
    stall_s: float = 0.0
    malformed_after: int | None = None
    error_body: Any = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, owner: FakeLLMServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.owner._lock:
            self.owner.connections_opened += 1
            self.owner._conns.add(conn)
        return conn, addr

    def shutdown_request(self, request: Any) -> None:
        with self.owner._lock:
            self.owner._conns.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], OSError):  # a client that closed its stream early
            return
        super().handle_error(request, client_address)


_ERROR_TYPES = {
    400: ("invalid_request_error", "INVALID_ARGUMENT"),
    401: ("authentication_error", "UNAUTHENTICATED"),
    403: ("permission_error", "PERMISSION_DENIED"),
    404: ("not_found_error", "NOT_FOUND"),
    429: ("rate_limit_error", "RESOURCE_EXHAUSTED"),
    500: ("api_error", "INTERNAL"),
    503: ("overloaded_error", "UNAVAILABLE"),
    529: ("overloaded_error", "UNAVAILABLE"),
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing ---------------------------------------------------------------------------

    def _send_json(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _abort(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)

    def _stream(self, events: list[bytes], fault: Fault | None, headers: Mapping[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        stopping = self.server.owner._stopping
        for i, event in enumerate(events):
            if fault is not None:
                if fault.cut_after == i:
                    self._abort()
                    return
                if fault.stall_after == i and stopping.wait(fault.stall_s):
                    self._abort()
                    return
                if fault.malformed_after == i:
                    named = self.server.owner.flavor == "anthropic"
                    head = b"event: content_block_delta\n" if named else b""
                    self._chunk(head + b"data: {not json\n\n")
            try:
                self._chunk(event)
            except OSError:  # the client went away (closed its stream early)
                self.close_connection = True
                with self.server.owner._lock:
                    self.server.owner.disconnects += 1
                return
        with contextlib.suppress(OSError):
            self._chunk(b"")

    # -- dispatch ---------------------------------------------------------------------------

    def _handle(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = None
        req = LLMRequest(
            self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
        )
        path = self.path.split("?", 1)[0]
        is_chat = self.command == "POST"
        with owner._lock:
            owner.requests.append(req)
            fault = None
            if is_chat:
                fault = owner._faults.popleft() if owner._faults else owner.always
            answer = owner._script.popleft() if is_chat and owner._script else owner.answer
            responder = owner.responder if is_chat and answer is owner.answer else None
        if responder is not None:
            answer = responder(req)
        if fault is not None and fault.delay_s and owner._stopping.wait(fault.delay_s):
            self._abort()
            return
        if not is_chat:
            self._send_json(200, owner._models_body(path))
            return
        if fault is not None and fault.status is not None:
            self._send_json(
                fault.status, fault.error_body or owner._error_body(fault.status), fault.headers
            )
            return
        flavor = owner.flavor
        streaming = bool(body and body.get("stream")) or ":streamGenerateContent" in path
        model = owner._model_of(path, body)
        extra = dict(fault.headers) if fault is not None else {}
        if not streaming:
            if fault is not None and fault.malformed_after is not None:
                self._send_json(200, b"{not json", extra)
                return
            self._send_json(200, owner._render(answer, model), extra)
            return
        events = {
            "openai": owner._openai_events,
            "azure": owner._openai_events,
            "anthropic": owner._anthropic_events,
            "gemini": owner._gemini_events,
        }[flavor](answer, model)
        self._stream(events, fault, extra)

    do_GET = do_POST = _handle


def _sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return (head + "data: " + json.dumps(data) + "\n\n").encode()


def _pieces(text: str, size: int = 3) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


class FakeLLMServer:
    """A fake LLM API on 127.0.0.1 (ephemeral port); a context manager.

    Args:
        flavor: ``openai``, ``azure``, ``anthropic`` or ``gemini``.
        models: the model ids its listing returns.

    Attributes:
        answer: what chat requests get (assign an :class:`Answer`).
        responder: when set, called with each chat :class:`LLMRequest` (after the
            :meth:`script` queue is empty) to decide its :class:`Answer`: a fake model that
            reacts to the conversation (e.g. answers once a tool result is in it).
        always: a :class:`Fault` applied to every chat request without a queued one.
        requests: every request received, in order.
        connections_opened: TCP connections accepted.
        disconnects: streams whose client closed the connection before the last event.
    """

    def __init__(self, flavor: Flavor, *, models: tuple[str, ...] = ("fake-model",)) -> None:
        self.flavor = flavor
        self.models = models
        self.answer = Answer()
        self.always: Fault | None = None
        self.responder: Callable[[LLMRequest], Answer] | None = None
        self.requests: list[LLMRequest] = []
        self.connections_opened = 0
        self.disconnects = 0
        self._faults: deque[Fault] = deque()
        self._script: deque[Answer] = deque()
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: the base URL without the API root."""
        if self._server is None:
            raise RuntimeError("server not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        """What to pass as the SDK's ``base_url`` (``/v1`` for OpenAI, the root otherwise)."""
        return self.url + "/v1" if self.flavor == "openai" else self.url

    def push(self, *faults: Fault) -> None:
        """Queue faults, consumed one per chat request in order."""
        with self._lock:
            self._faults.extend(faults)

    def script(self, *answers: Answer) -> None:
        """Queue answers, consumed one per chat request in order (then :attr:`answer`):
        a model scripted to ask for tool calls, then answer."""
        with self._lock:
            self._script.extend(answers)

    def chat_requests(self) -> list[LLMRequest]:
        """The chat (POST) requests received so far."""
        with self._lock:
            return [r for r in self.requests if r.method == "POST"]

    def reset(self) -> None:
        """Forget requests, queued faults and ``always``; restore the default answer."""
        with self._lock:
            self.requests.clear()
            self._faults.clear()
            self._script.clear()
            self.always = None
            self.responder = None
            self.answer = Answer()

    def start(self) -> FakeLLMServer:
        """Bind and serve on a daemon thread."""
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeLLMServer-{self.flavor}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Release stalled handlers, stop serving, close the listening socket and every open
        connection (waits <= timeout_s)."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout_s)

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- rendering --------------------------------------------------------------------------

    def _model_of(self, path: str, body: Any) -> str:
        match = re.search(r"/models/([^/:]+):", path)
        if match:
            return match.group(1)
        match = re.search(r"/deployments/([^/]+)/", path)
        if match:
            return match.group(1)
        return str((body or {}).get("model") or self.models[0])

    def _finish(self, answer: Answer) -> str:
        return answer.finish or ("tool_calls" if answer.tool_calls else "stop")

    def _error_body(self, status: int) -> Any:
        kind, gstatus = _ERROR_TYPES.get(status, ("api_error", "INTERNAL"))
        message = f"fake {kind} ({status})"
        if self.flavor == "anthropic":
            return {"type": "error", "error": {"type": kind, "message": message}}
        if self.flavor == "gemini":
            return {"error": {"code": status, "message": message, "status": gstatus}}
        return {"error": {"message": message, "type": kind, "param": None, "code": None}}

    def _models_body(self, path: str) -> Any:
        if self.flavor == "anthropic":
            data = [
                {"id": m, "type": "model", "display_name": m, "created_at": "2026-01-01T00:00:00Z"}
                for m in self.models
            ]
            return {"data": data, "has_more": False, "first_id": None, "last_id": None}
        if self.flavor == "gemini":
            return {
                "models": [
                    {"name": f"models/{m}", "supportedGenerationMethods": ["generateContent"]}
                    for m in self.models
                ]
            }
        listing: list[dict[str, Any]] = [
            {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models
        ]
        return {"object": "list", "data": listing}

    def _render(self, answer: Answer, model: str) -> Any:
        finish = self._finish(answer)
        if self.flavor == "anthropic":
            content: list[Any] = [{"type": "text", "text": answer.text}] if answer.text else []
            for i, (name, args) in enumerate(answer.tool_calls):
                content.append(
                    {"type": "tool_use", "id": f"toolu_0{i}", "name": name, "input": args}
                )
            stop = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
            return {
                "id": "msg_01",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": content,
                "stop_reason": stop.get(finish, "refusal"),
                "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": 5},
            }
        if self.flavor == "gemini":
            return self._gemini_body(answer, model, answer.text, True)
        message: dict[str, Any] = {"role": "assistant", "content": answer.text or None}
        if answer.tool_calls:
            message["tool_calls"] = [
                {
                    "id": f"call_{i}",
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(args)},
                }
                for i, (name, args) in enumerate(answer.tool_calls)
            ]
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }

    def _openai_events(self, answer: Answer, model: str) -> list[bytes]:
        def chunk(delta: Any, finish: str | None = None, **extra: Any) -> bytes:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            data = {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": [choice],
                **extra,
            }
            return _sse(data)

        events: list[bytes] = []
        if self.flavor == "azure":  # Azure's first chunk: prompt filter results, no choices
            events.append(
                _sse(
                    {
                        "id": "",
                        "object": "",
                        "created": 0,
                        "model": "",
                        "choices": [],
                        "prompt_filter_results": [],
                    }
                )
            )
        events.append(chunk({"role": "assistant", "content": ""}))
        events.extend(chunk({"content": p}) for p in _pieces(answer.text))
        for i, (name, args) in enumerate(answer.tool_calls):
            events.append(
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": i,
                                "id": f"call_{i}",
                                "type": "function",
                                "function": {"name": name, "arguments": ""},
                            }
                        ]
                    }
                )
            )
            events.extend(
                chunk({"tool_calls": [{"index": i, "function": {"arguments": p}}]})
                for p in _pieces(json.dumps(args), 5)
            )
        events.append(chunk({}, self._finish(answer)))
        events.append(
            _sse(
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": model,
                    "choices": [],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                }
            )
        )
        events.append(b"data: [DONE]\n\n")
        return events

    def _anthropic_events(self, answer: Answer, model: str) -> list[bytes]:
        start = self._render(Answer(text="", finish="stop"), model)
        start.update(content=[], stop_reason=None, usage={"input_tokens": 10, "output_tokens": 1})
        events = [_sse({"type": "message_start", "message": start}, "message_start")]
        index = 0
        if answer.text:
            events.append(
                _sse(
                    {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "text", "text": ""},
                    },
                    "content_block_start",
                )
            )
            events.extend(
                _sse(
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": p},
                    },
                    "content_block_delta",
                )
                for p in _pieces(answer.text)
            )
            events.append(_sse({"type": "content_block_stop", "index": 0}, "content_block_stop"))
            index = 1
        for i, (name, args) in enumerate(answer.tool_calls):
            block = {"type": "tool_use", "id": f"toolu_0{i}", "name": name, "input": {}}
            events.append(
                _sse(
                    {"type": "content_block_start", "index": index, "content_block": block},
                    "content_block_start",
                )
            )
            events.extend(
                _sse(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": p},
                    },
                    "content_block_delta",
                )
                for p in _pieces(json.dumps(args), 5)
            )
            events.append(
                _sse({"type": "content_block_stop", "index": index}, "content_block_stop")
            )
            index += 1
        stop = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
        events.append(
            _sse(
                {
                    "type": "message_delta",
                    "delta": {
                        "stop_reason": stop.get(self._finish(answer), "refusal"),
                        "stop_sequence": None,
                    },
                    "usage": {"output_tokens": 5},
                },
                "message_delta",
            )
        )
        events.append(_sse({"type": "message_stop"}, "message_stop"))
        return events

    def _gemini_body(self, answer: Answer, model: str, text: str, final: bool) -> Any:
        if answer.blocked:
            return {"promptFeedback": {"blockReason": answer.blocked}, "modelVersion": model}
        parts: list[Any] = [{"text": text}] if text else []
        if final:
            parts.extend(
                {"functionCall": {"name": name, "args": args}} for name, args in answer.tool_calls
            )
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if final:
            finish = self._finish(answer)
            candidate["finishReason"] = {
                "stop": "STOP",
                "tool_calls": "STOP",
                "length": "MAX_TOKENS",
            }.get(finish, "SAFETY")
        body: dict[str, Any] = {"candidates": [candidate], "modelVersion": model}
        if final:
            body["usageMetadata"] = {
                "promptTokenCount": 10,
                "candidatesTokenCount": 5,
                "totalTokenCount": 15,
            }
        return body

    def _gemini_events(self, answer: Answer, model: str) -> list[bytes]:
        pieces = _pieces(answer.text) or [""]
        events = [
            (
                "data: " + json.dumps(self._gemini_body(answer, model, p, False)) + "\r\n\r\n"
            ).encode()
            for p in pieces[:-1]
        ]
        last = self._gemini_body(answer, model, pieces[-1], True)
        events.append(("data: " + json.dumps(last) + "\r\n\r\n").encode())
        return events
