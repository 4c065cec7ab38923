"""examples/agent.py: its Flask view answers with the agent under a real threaded server,
with the bundled demo server and mcp-server-time as tools and the fake OpenAI model."""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from syncclients import MCPGroup
from syncclients.llm import OpenAIProvider
from syncclients.testing.llm_server import Answer, FakeLLMServer, LLMRequest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "agent.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("agent_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


example = _load()


@pytest.fixture
def served() -> Iterator[tuple[str, FakeLLMServer]]:
    with (
        FakeLLMServer("openai") as model,
        MCPGroup.from_dict(example.SERVERS, hooks=()) as tools,
    ):
        model.responder = example.fake_model
        llm = OpenAIProvider(model="gpt-4o-mini", api_key="k", base_url=model.base_url, hooks=())
        server = make_server("127.0.0.1", 0, example.create_app(llm, tools), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}", model
        finally:
            server.shutdown()
            server.server_close()
            thread.join(10)
            llm.close()


def test_view_answers_with_the_agent_concurrently(served: tuple[str, FakeLLMServer]) -> None:
    url, model = served

    def ask(i: int) -> dict[str, Any]:
        reply = requests.post(f"{url}/api/ask", json={"question": f"q{i}"}, timeout=30)
        reply.raise_for_status()
        body: dict[str, Any] = reply.json()
        return body

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(ask, range(6)))
    for answer in answers:
        assert answer["stop_reason"] == "final"
        assert [c["status"] for c in answer["tool_calls"]] == ["ok"] * 4
        assert '"price": 0.5' in answer["answer"] and "waited 300 ms" in answer["answer"]
    assert len(model.chat_requests()) == 12  # two model turns per question


def test_view_reports_a_refused_call(served: tuple[str, FakeLLMServer]) -> None:
    url, model = served

    def slow_model(req: LLMRequest) -> Answer:
        if req.body["messages"][-1]["role"] == "tool":
            return Answer(text="told: " + req.body["messages"][-1]["content"])
        return Answer(text="", tool_calls=(("shop__slow", {"ms": 4000}),))

    model.responder = slow_model
    answer = requests.post(f"{url}/api/ask", json={"question": "x"}, timeout=30).json()
    assert answer["tool_calls"] == [
        {"name": "shop__slow", "server": "shop", "status": "refused", "s": 0.0}
    ]
    assert "refused" in answer["answer"]
