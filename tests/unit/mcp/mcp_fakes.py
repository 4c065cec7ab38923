"""FakeServer: a scripted in-memory MCP server for unit tests over MockTransport."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from syncclients.mcp.messages import (
    ErrorObject,
    ErrorResponse,
    Message,
    Notification,
    Request,
    Response,
)

Handler = Callable[[Request], "dict[str, Any] | ErrorObject | None"]


class FakeServer:
    """Answers requests from ``handlers`` (method -> handler); records what it saw.

    A handler returns a result dict, an ErrorObject, or None (no answer: the test answers
    later through ``transport.inject``). ``modern`` selects the answer to server/discover.
    """

    def __init__(self, *, modern: bool = False) -> None:
        self.requests: list[Request] = []
        self.notifications: list[Notification] = []
        self.responses: list[Message] = []
        self.handlers: dict[str, Handler] = {
            "initialize": lambda r: {
                "protocolVersion": "2025-11-25",
                "capabilities": {"tools": {}, "logging": {}},
                "serverInfo": {"name": "fake", "version": "1.0"},
                "instructions": "hi",
            },
            "server/discover": (
                (lambda r: {
                    "supportedVersions": ["2026-07-28"],
                    "capabilities": {"tools": {"listChanged": True}},
                    "ttlMs": 1000,
                    "cacheScope": "public",
                    "resultType": "complete",
                    "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "fake-modern",
                                                                     "version": "2"}},
                })
                if modern
                else (lambda r: ErrorObject(-32601, "Method not found"))
            ),
            "ping": lambda r: {},
            "tools/list": lambda r: {"tools": [{"name": "t", "inputSchema": {"type": "object"}}]},
        }  # fmt: skip

    def methods(self) -> list[str]:
        return [r.method for r in self.requests]

    def __call__(self, message: Message) -> list[Message] | None:
        if isinstance(message, Notification):
            self.notifications.append(message)
            return None
        if not isinstance(message, Request):
            self.responses.append(message)
            return None
        self.requests.append(message)
        handler = self.handlers.get(message.method)
        if handler is None:
            return [ErrorResponse(message.id, ErrorObject(-32601, "Method not found"))]
        answer = handler(message)
        if answer is None:
            return None
        if isinstance(answer, ErrorObject):
            return [ErrorResponse(message.id, answer)]
        return [Response(message.id, answer)]
