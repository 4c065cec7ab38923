"""Views that call MCP tools through the shared, process-wide clients."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from . import clients


@require_GET
def tools(request: HttpRequest) -> JsonResponse:
    """Every server's tools, under server-qualified names (``demo__add``)."""
    listed = clients.group().list_tools()
    return JsonResponse(
        {"tools": [{"name": t.name, "server": t.server, "tool": t.tool.name} for t in listed]}
    )


@csrf_exempt  # a JSON API called by programs, not by a browser form
@require_POST
def call(request: HttpRequest, server: str, tool: str) -> JsonResponse:
    """Call ``tool`` on ``server`` with the JSON object in the body as its arguments."""
    group = clients.group()
    if server not in group.servers:
        return JsonResponse({"error": f"unknown server {server!r}"}, status=404)
    try:
        arguments: Any = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": "the body must be a JSON object"}, status=400)
    if not isinstance(arguments, dict):
        return JsonResponse({"error": "the body must be a JSON object"}, status=400)
    client = group.client(server)
    result = client.call_tool(tool, arguments)
    if result.is_error:
        return JsonResponse({"error": "tool failed", "detail": result.text}, status=422)
    value = result.structured_content if result.structured_content is not None else result.text
    # server_pid shows that all requests share one server process per configured server.
    return JsonResponse({"result": value, "server_pid": client.pid})


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Each server's health (a ping; failures are reported, not raised)."""
    report = clients.group().health(timeout_s=5.0)
    return JsonResponse(
        {
            "servers": [
                {"server": h.server, "ok": h.ok, "error": h.error, "breaker": h.breaker_state}
                for h in report
            ]
        },
        status=200 if all(h.ok for h in report) else 503,
    )
