"""A reference server for the five platform services, on 127.0.0.1, with fault knobs.

One :class:`PlatformServer` answers the contract of ``shared/docs/platform-services.md``
(sections 1-3 and the PROPOSED section 5) for ``model_orchestrator``, ``adaptor_service``,
``security_hub``, ``analytics_engine`` and ``cache`` on one port, so one URL serves every
``external_services.<service>_url``. Its state (integrations, events, cache entries) lives in
the object, so :meth:`PlatformServer.restart` is a real restart of the listener (connections
refused while down, open connections reset) that keeps the data, like a service with a
database.

Faults (:meth:`PlatformServer.add_fault`): a delay, a status (with ``Retry-After``), a
dropped connection, or a malformed JSON body, for requests whose path starts with a prefix,
for the next ``times`` matching requests or until cleared.

Run it alone with ``python -m syncclients.testing.platform_server [port]``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["Fault", "PlatformServer", "SeenRequest"]


@dataclass(slots=True)
class Fault:
    """A fault applied to matching requests.

    Attributes:
        path_prefix: requests whose path starts with this ("" matches all).
        method: only this method; None: any.
        status: answer this status (JSON ``{"message": ...}``); None: no status fault.
        retry_after: a ``Retry-After`` header value in seconds with ``status``; None: none.
        delay_s: wait this long before handling, seconds (ends early when the server stops).
        drop: close the connection without answering (the client sees a reset).
        malformed: answer 200 with ``Content-Type: application/json`` and a broken body.
        lose_reply: handle the request (its effects happen), then reset the connection
            instead of answering: the client cannot know it was processed.
        times: how many matching requests it applies to; None: until cleared.
    """

    path_prefix: str = ""
    method: str | None = None
    status: int | None = None
    retry_after: float | None = None
    delay_s: float = 0.0
    drop: bool = False
    malformed: bool = False
    lose_reply: bool = False
    times: int | None = None
    hits: int = 0


@dataclass(frozen=True, slots=True)
class SeenRequest:
    """A request the server received (method, path with query, headers, body bytes)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON (None when empty)."""
        return json.loads(self.body) if self.body else None


@dataclass(slots=True)
class _Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: PlatformServer

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.owner._lock:
            self.owner._connections.add(conn)
        return conn, addr

    def shutdown_request(self, request: Any) -> None:
        with self.owner._lock:
            self.owner._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # a client that went away (or our own restart): not a server bug
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        seen = SeenRequest(self.command, self.path, dict(self.headers.items()), body)
        owner._record(seen)
        path = urlsplit(self.path).path
        fault = owner._take_fault(self.command, path)
        if fault is not None and fault.delay_s and owner._stopping.wait(fault.delay_s):
            return self._drop()
        if fault is not None and fault.drop:
            return self._drop()
        if fault is not None and fault.malformed:
            return self._send(200, b'{"data": {"broken', {"Content-Type": "application/json"})
        if fault is not None and fault.status is not None:
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            return self._send_json(
                _Reply(fault.status, {"message": f"injected fault {fault.status}"}, headers)
            )
        try:
            reply = owner._dispatch(seen, self.command, path)
        except Exception as exc:  # a bug in a handler: answer 500, like a real service
            reply = _Reply(500, {"message": f"server error: {type(exc).__name__}"})
        if fault is not None and fault.lose_reply:
            return self._drop()
        self._send_json(reply)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send_json(self, reply: _Reply) -> None:
        self._send(
            reply.status,
            json.dumps(reply.body).encode(),
            {"Content-Type": "application/json", **reply.headers},
        )

    def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


Route = Callable[[SeenRequest, dict[str, str]], _Reply]


def _ok(data: Any, status: int = 200) -> _Reply:
    return _Reply(status, {"data": data})


def _error(status: int, message: str) -> _Reply:
    return _Reply(status, {"message": message})


class PlatformServer:
    """The five platform services on one 127.0.0.1 port (see the module docstring).

    Use as a context manager, or :meth:`start` / :meth:`stop`.

    Args:
        port: the port to bind; 0: an ephemeral one (kept across :meth:`restart`).

    Attributes:
        tokens: ``{token: {"subject", "tenant_id", "scopes", "expires_at"}}`` that
            ``validate_token`` accepts.
        grants: ``{(subject, action, resource)}`` that ``authorize`` allows.
        decision_ttl_s: the ``ttl_s`` returned by ``authorize``.
        events: analytics events stored, by ``event_id`` (duplicates removed).
        duplicate_events: events received again (same ``event_id``) and not stored.
        metrics: analytics metrics received.
        audit_events: audit events received, by ``event_id``.
        integrations: the adaptor service's integrations, by id.
    """

    def __init__(self, port: int = 0) -> None:
        self._port = port
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._faults: list[Fault] = []
        self.requests: list[SeenRequest] = []
        self.tokens: dict[str, dict[str, Any]] = {}
        self.grants: set[tuple[str, str, str]] = set()
        self.decision_ttl_s = 30.0
        self.events: dict[str, dict[str, Any]] = {}
        self.duplicate_events = 0
        self.metrics: list[dict[str, Any]] = []
        self.audit_events: dict[str, dict[str, Any]] = {}
        self.integrations: dict[str, dict[str, Any]] = {}
        self.cache: dict[tuple[str, str], tuple[Any, float]] = {}
        self._idempotency: dict[str, _Reply] = {}
        self._ids = itertools.count(1)
        self._routes: list[tuple[str, re.Pattern[str], Route]] = []
        self._add_routes()

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:<port>``."""
        if self._port == 0:
            raise RuntimeError("server not started")
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> PlatformServer:
        """Bind 127.0.0.1 (the same port again after a restart) and serve on a thread."""
        self._stopping.clear()
        server = _HTTPServer(("127.0.0.1", self._port), _Handler, bind_and_activate=False)
        server.owner = self
        server.server_bind()
        server.server_activate()
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="PlatformServer",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop serving: refuse new connections, reset open ones (waits <= ``timeout_s``)."""
        self._stopping.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._lock:
            conns, self._connections = self._connections, set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout_s)

    def restart(self, down_s: float = 0.0) -> None:
        """Stop, stay down ``down_s`` seconds (connections refused), start on the same port.
        The data is kept."""
        self.stop()
        if down_s > 0:
            time.sleep(down_s)
        self.start()

    def __enter__(self) -> PlatformServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- faults and inspection -----------------------------------------------------------

    def add_fault(self, path_prefix: str = "", **kwargs: Any) -> Fault:
        """Add a :class:`Fault` (keyword arguments as its attributes) and return it."""
        fault = Fault(path_prefix, **kwargs)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    def count(self, method: str | None = None, path_prefix: str = "") -> int:
        """How many requests matched ``method`` (None: any) and the path prefix."""
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (method is None or r.method == method) and r.path.startswith(path_prefix)
            )

    def _record(self, seen: SeenRequest) -> None:
        with self._lock:
            self.requests.append(seen)
            if len(self.requests) > 10_000:
                del self.requests[:5_000]

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method not in (None, method) or not path.startswith(fault.path_prefix):
                    continue
                if fault.times is not None and fault.hits >= fault.times:
                    continue
                fault.hits += 1
                return fault
        return None

    def _dispatch(self, seen: SeenRequest, method: str, path: str) -> _Reply:
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                params = {k: unquote(v) for k, v in match.groupdict().items()}
                return handler(seen, params)
        return _error(404, f"no route for {method} {path}")

    # -- routes ------------------------------------------------------------------------------

    def _add_routes(self) -> None:
        def add(method: str, template: str, handler: Route) -> None:
            regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
            self._routes.append((method, re.compile(regex), handler))

        add("GET", "/health", lambda s, p: _Reply(200, {"status": "healthy"}))
        add("POST", "/api/v2/model/process", self._model_process)
        add("GET", "/api/v2/model/status", lambda s, p: _ok({"status": "ready", "models": 4}))
        add("GET", "/api/v2/integrations", self._list_integrations)
        add("POST", "/api/v2/integrations", self._create_integration)
        add("PUT", "/api/v2/integrations/{id}", self._update_integration)
        add("DELETE", "/api/v2/integrations/{id}", self._delete_integration)
        add("GET", "/api/v2/integrations/{id}/status", self._integration_status)
        add("POST", "/api/v2/integrations/{id}/test", self._test_integration)
        add("POST", "/api/v2/integrations/{id}/execute", self._execute)
        add("POST", "/api/v2/security/tokens/validate", self._validate_token)
        add("POST", "/api/v2/security/authorize", self._authorize)
        add("POST", "/api/v2/security/audit-events", self._audit)
        add("POST", "/api/v2/analytics/events", self._ingest)
        add("POST", "/api/v2/analytics/metrics", self._record_metrics)
        add("GET", "/api/v2/cache/{ns}/{key}", self._cache_get)
        add("PUT", "/api/v2/cache/{ns}/{key}", self._cache_set)
        add("DELETE", "/api/v2/cache/{ns}/{key}", self._cache_delete)

    def _model_process(self, seen: SeenRequest, _p: dict[str, str]) -> _Reply:
        body = seen.json() or {}
        op = body.get("operation")
        data = body.get("input") or {}
        text = str(data.get("text", ""))
        words = text.lower().split()
        info = {"provider": (body.get("model_preferences") or {}).get("primary_provider")}
        perf = {"processing_time_ms": 3}
        if op == "intent_detection":
            intent = "greeting" if {"hello", "hi"} & set(words) else "general_inquiry"
            result: dict[str, Any] = {
                "primary_intent": intent,
                "confidence": 0.92,
                "alternatives": [{"intent": "other", "confidence": 0.05}],
                "entities": [],
            }
        elif op == "entity_extraction":
            result = {
                "entities": [
                    {
                        "type": "number",
                        "value": w,
                        "start": text.find(w),
                        "end": text.find(w) + len(w),
                        "confidence": 0.99,
                    }
                    for w in text.split()
                    if w.isdigit()
                ]
            }
        elif op == "response_generation":
            result = {
                "primary_output": f"Happy to help with {data.get('intent')}.",
                "confidence_score": 0.8,
                "reasoning": None,
            }
        elif op == "sentiment_analysis":
            good = len({"good", "great", "love", "happy"} & set(words))
            bad = len({"bad", "awful", "hate", "angry"} & set(words))
            label = "positive" if good > bad else "negative" if bad > good else "neutral"
            result = {"sentiment": label, "confidence": 0.9, "scores": {label: 0.9}}
        else:
            return _error(400, f"unknown operation {op!r}")
        return _ok({"result": result, "model_info": info, "performance_metrics": perf})

    def _list_integrations(self, seen: SeenRequest, _p: dict[str, str]) -> _Reply:
        query = {k: v[0] for k, v in parse_qs(urlsplit(seen.path).query).items()}
        with self._lock:
            items = [
                dict(v)
                for v in self.integrations.values()
                if all(v.get(k) == query[k] for k in ("category", "status") if k in query)
            ]
        return _ok({"integrations": items})

    def _create_integration(self, seen: SeenRequest, _p: dict[str, str]) -> _Reply:
        config = seen.json() or {}
        if not config.get("name"):
            return _error(422, "name is required")
        with self._lock:
            ident = f"int-{next(self._ids)}"
            self.integrations[ident] = {"id": ident, "status": "active", **config}
        return _ok({"success": True, "integration_id": ident}, 201)

    def _update_integration(self, seen: SeenRequest, p: dict[str, str]) -> _Reply:
        with self._lock:
            if p["id"] not in self.integrations:
                return _error(404, "integration not found")
            self.integrations[p["id"]].update(seen.json() or {})
        return _ok({"success": True, "integration_id": p["id"]})

    def _delete_integration(self, _s: SeenRequest, p: dict[str, str]) -> _Reply:
        with self._lock:
            if self.integrations.pop(p["id"], None) is None:
                return _error(404, "integration not found")
        return _ok({"deleted": True})

    def _integration_status(self, _s: SeenRequest, p: dict[str, str]) -> _Reply:
        with self._lock:
            item = self.integrations.get(p["id"])
        if item is None:
            return _error(404, "integration not found")
        return _ok({"status": item.get("status", "active"), "health": "healthy"})

    def _test_integration(self, seen: SeenRequest, p: dict[str, str]) -> _Reply:
        if p["id"] not in self.integrations:
            return _error(404, "integration not found")
        case = (seen.json() or {}).get("test_case")
        return _ok({"success": True, "test_results": [{"case": case, "passed": True}]})

    def _execute(self, seen: SeenRequest, p: dict[str, str]) -> _Reply:
        if p["id"] not in self.integrations:
            return _error(404, "integration not found")
        body = seen.json() or {}
        return _ok(
            {
                "execution_id": body.get("execution_id"),
                "result": {
                    "status_code": 200,
                    "response_data": {"echo": body.get("input_data")},
                    "error_message": None,
                },
                "execution_metadata": {
                    "execution_time_ms": 2,
                    "retry_count": 0,
                    "cache_hit": False,
                },
            }
        )

    def _validate_token(self, seen: SeenRequest, _p: dict[str, str]) -> _Reply:
        token = (seen.json() or {}).get("token")
        info = self.tokens.get(token) if isinstance(token, str) else None
        if info is None:
            return _ok(
                {
                    "valid": False,
                    "subject": None,
                    "tenant_id": None,
                    "scopes": [],
                    "expires_at": None,
                }
            )
        return _ok({"valid": True, **info})

    def _authorize(self, seen: SeenRequest, _p: dict[str, str]) -> _Reply:
        body = seen.json() or {}
        key = (body.get("subject"), body.get("action"), body.get("resource"))
        allowed = key in self.grants
        return _ok(
            {
                "allowed": allowed,
                "reason": "granted" if allowed else "no matching grant",
                "policy_id": "ref-policy",
                "ttl_s": self.decision_ttl_s,
            }
        )

    def _audit(self, seen: SeenRequest, _p: dict[str, str]) -> _Reply:
        event = seen.json() or {}
        with self._lock:
            self.audit_events[str(event.get("event_id"))] = event
        return _ok({"accepted": True}, 202)

    def _ingest(self, seen: SeenRequest, _p: dict[str, str]) -> _Reply:
        key = next((v for k, v in seen.headers.items() if k.lower() == "idempotency-key"), None)
        events = (seen.json() or {}).get("events")
        if not isinstance(events, list) or len(events) > 500:
            return _error(400, "events must be a list of at most 500")
        with self._lock:
            if key is not None and key in self._idempotency:
                return self._idempotency[key]
            accepted = duplicates = 0
            rejected = []
            for event in events:
                event_id = event.get("event_id") if isinstance(event, dict) else None
                if not event_id or not event.get("type"):
                    rejected.append({"event_id": event_id, "reason": "event_id and type required"})
                elif event_id in self.events:
                    duplicates += 1
                    self.duplicate_events += 1
                else:
                    self.events[event_id] = event
                    accepted += 1
            reply = _ok({"accepted": accepted, "duplicates": duplicates, "rejected": rejected})
            if key is not None:
                self._idempotency[key] = reply
        return reply

    def _record_metrics(self, seen: SeenRequest, _p: dict[str, str]) -> _Reply:
        metrics = (seen.json() or {}).get("metrics") or []
        with self._lock:
            self.metrics.extend(metrics)
        return _ok({"accepted": len(metrics)})

    def _cache_get(self, _s: SeenRequest, p: dict[str, str]) -> _Reply:
        now = time.monotonic()
        with self._lock:
            entry = self.cache.get((p["ns"], p["key"]))
            if entry is None or entry[1] <= now:
                self.cache.pop((p["ns"], p["key"]), None)
                return _error(404, "miss")
        return _ok({"value": entry[0], "ttl_remaining_s": round(entry[1] - now, 3)})

    def _cache_set(self, seen: SeenRequest, p: dict[str, str]) -> _Reply:
        body = seen.json() or {}
        ttl = float(body.get("ttl_s", 300))
        with self._lock:
            self.cache[(p["ns"], p["key"])] = (body.get("value"), time.monotonic() + ttl)
        return _ok({"stored": True})

    def _cache_delete(self, _s: SeenRequest, p: dict[str, str]) -> _Reply:
        with self._lock:
            deleted = self.cache.pop((p["ns"], p["key"]), None) is not None
        return _ok({"deleted": deleted})


def _main(argv: list[str]) -> int:
    server = PlatformServer(int(argv[0]) if argv else 0).start()
    print(server.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
