"""Modern-era subscriptions (subscriptions/listen) against the official SDK server,
over stdio and Streamable HTTP."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncclients.mcp import MCPClient, ServerNotification

sys.path.insert(0, str(Path(__file__).parent / "http"))
from mcp_http_helpers import start_sdk_server


class Inbox:
    def __init__(self) -> None:
        self.items: list[ServerNotification] = []
        self.cond = threading.Condition()

    def __call__(self, note: ServerNotification) -> None:
        with self.cond:
            self.items.append(note)
            self.cond.notify_all()

    def updated(self) -> list[str]:
        with self.cond:
            return [
                n.params.get("uri", "")
                for n in self.items
                if n.method == "notifications/resources/updated"
            ]

    def wait_for_update(self, uri: str, timeout_s: float = 10.0) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: uri in self.updated_locked(), timeout_s), self.items

    def updated_locked(self) -> list[str]:
        return [
            n.params.get("uri", "")
            for n in self.items
            if n.method == "notifications/resources/updated"
        ]


@pytest.fixture(params=["stdio", "http"])
def modern_client(
    request: pytest.FixtureRequest, sdk_cmd: list[str], tmp_path: Path
) -> Iterator[tuple[MCPClient, Inbox]]:
    inbox = Inbox()
    if request.param == "stdio":
        client = MCPClient.stdio(sdk_cmd, era="2026-07-28", on_notification=inbox, hooks=())
        try:
            yield client.connect(), inbox
        finally:
            client.close()
        return
    server = start_sdk_server("streamable", tmp_path)
    try:
        client = MCPClient.http(
            server.base + "/mcp", era="2026-07-28", on_notification=inbox, hooks=()
        )
        try:
            yield client.connect(), inbox
        finally:
            client.close()
    finally:
        server.stop()


def test_subscribe_and_unsubscribe_in_the_modern_era(
    modern_client: tuple[MCPClient, Inbox],
) -> None:
    client, inbox = modern_client
    assert client.era == "modern"
    client.subscribe_resource("res://hello")
    client.call_tool("touch", {"uris": ["res://hello"]})
    inbox.wait_for_update("res://hello")
    # a new filter: res://hello out, res://other in
    client.unsubscribe_resource("res://hello")
    client.subscribe_resource("res://other")
    before = inbox.updated().count("res://hello")
    client.call_tool("touch", {"uris": ["res://hello", "res://other"]})
    inbox.wait_for_update(
        "res://other"
    )  # published after res://hello: that one came first if at all
    assert inbox.updated().count("res://hello") == before
    acks = [n for n in inbox.items if n.method == "notifications/subscriptions/acknowledged"]
    assert len(acks) >= 2
