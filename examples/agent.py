"""An agent: a model's tool calls run on real MCP servers, in parallel, bounded and recorded.

The model is a local fake that speaks the OpenAI wire format (syncclients.testing), driven
through the real ``openai`` SDK, so no key or network is needed: it asks for four tool
calls at once (two catalogue lookups on the bundled demo server, the time from
mcp-server-time, a slow call that needs approval), then answers from their results. With a
real key, drop the fake server and the ``base_url``.

``python examples/agent.py`` prints the event log with timings, then serves a Flask view
(``POST /api/ask`` with ``{"question": ...}``) that answers with the agent, and asks it
from 4 threads at once. Needs ``pip install 'syncclients[openai,demo,examples]'`` and
``mcp-server-time``.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from syncclients import HTTPClient, MCPGroup, RetryPolicy
from syncclients.agent import (
    AgentEvent,
    FinalEvent,
    ModelTurnEvent,
    ToolCallFinished,
    ToolCallRecord,
    ToolCallStarted,
    run_agent,
)
from syncclients.llm import OpenAIProvider
from syncclients.testing.llm_server import Answer, FakeLLMServer, LLMRequest

TIME_SERVER = shutil.which("mcp-server-time") or str(
    Path(sys.executable).parent / "mcp-server-time"
)
SERVERS = {
    "mcpServers": {
        "shop": {"command": sys.executable, "args": ["-m", "syncclients.demo.server"]},
        "time": {"command": TIME_SERVER, "args": ["--local-timezone", "UTC"]},
    }
}


def fake_model(req: LLMRequest) -> Answer:
    """Ask for the tools on a question; answer once the results are in the conversation."""
    messages = req.body["messages"]
    if messages[-1]["role"] == "tool":
        results = [m["content"] for m in messages if m["role"] == "tool"]
        return Answer(text="From the tools: " + " | ".join(results))
    return Answer(
        text="",
        tool_calls=(
            ("shop__lookup", {"item": "apple"}),
            ("shop__lookup", {"item": "bread"}),
            ("time__get_current_time", {"timezone": "Europe/Paris"}),
            ("shop__slow", {"ms": 300}),
        ),
    )


def approve(call: ToolCallRecord) -> bool:
    """Human in the loop: asked for tools not annotated read-only (here ``slow``)."""
    return call.tool == "slow" and call.arguments.get("ms", 0) <= 1000


def printer(started: float) -> Any:
    """An ``on_event`` callback that prints one line per event with its time."""

    def on_event(event: AgentEvent) -> None:
        at = f"{time.monotonic() - started:6.3f}s"
        if isinstance(event, ModelTurnEvent):
            calls = ", ".join(c.name for c in event.response.tool_calls) or "none"
            print(f"{at} model turn {event.turn} ({event.duration_s:.3f}s): calls {calls}")
        elif isinstance(event, ToolCallStarted):
            print(f"{at}   started  {event.name} {json.dumps(event.arguments)}")
        elif isinstance(event, ToolCallFinished):
            r = event.record
            print(
                f"{at}   finished {r.name} [{r.status}] {r.duration_s:.3f}s -> {r.result_text[:60]}"
            )
        elif isinstance(event, FinalEvent):
            res = event.result
            print(
                f"{at} final ({res.stop_reason}, {res.turns} turns, {res.duration_s:.3f}s):"
                f" {res.text[:100]}"
            )

    return on_event


def create_app(llm: OpenAIProvider, tools: MCPGroup) -> Flask:
    """A Flask app whose view answers with the agent (clients shared by all requests)."""
    app = Flask(__name__)

    @app.post("/api/ask")
    def ask() -> Any:
        question = str((request.get_json(silent=True) or {}).get("question", ""))
        result = run_agent(
            llm,
            tools,
            [{"role": "user", "content": question}],
            max_turns=4,
            deadline_s=20,
            approve=approve,
        )
        return jsonify(
            answer=result.text,
            stop_reason=result.stop_reason,
            tool_calls=[
                {
                    "name": r.name,
                    "server": r.server,
                    "status": r.status,
                    "s": round(r.duration_s, 3),
                }
                for r in result.tool_calls
            ],
            seconds=round(result.duration_s, 3),
        )

    return app


def main() -> int:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log
    with FakeLLMServer("openai") as model, MCPGroup.from_dict(SERVERS, hooks=()) as tools:
        model.responder = fake_model
        llm = OpenAIProvider(
            model="gpt-4o-mini", api_key="example-key", base_url=model.base_url, hooks=()
        )
        try:
            tools.list_tools()  # start both servers before timing the run
            started = time.monotonic()
            result = run_agent(
                llm,
                tools,
                [{"role": "user", "content": "Prices of apple and bread, and the time?"}],
                max_turns=4,
                deadline_s=30,
                max_parallel_tools=4,
                approve=approve,
                on_event=printer(started),
            )
            serial = sum(r.duration_s for r in result.tool_calls)
            print(
                f"tool calls: {len(result.tool_calls)}, sum of their durations {serial:.3f}s; "
                f"usage {result.usage.input_tokens} in / {result.usage.output_tokens} out"
            )

            app = create_app(llm, tools)
            server = make_server("127.0.0.1", 0, app, threaded=True)
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            try:
                url = f"http://127.0.0.1:{server.server_port}"
                with (
                    HTTPClient(
                        url, timeout=(2, 30), retry=RetryPolicy.never(), breaker=None
                    ) as web,
                    ThreadPoolExecutor(4) as pool,
                ):
                    answers = list(
                        pool.map(
                            lambda i: web.post("api/ask", json={"question": f"q{i}"}), range(4)
                        )
                    )
                for a in answers:
                    print(
                        f"POST /api/ask -> {a['stop_reason']} in {a['seconds']}s: "
                        f"{[c['status'] for c in a['tool_calls']]}"
                    )
            finally:
                server.shutdown()
                server.server_close()
                thread.join(10)
        finally:
            llm.close()
    return 0 if result.stop_reason == "final" else 1


if __name__ == "__main__":
    sys.exit(main())
