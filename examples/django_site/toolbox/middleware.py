"""Turns failures of the services the views call into JSON answers.

An open breaker or a dead, unreachable or timing-out server is a 503 (the service is down,
not this site); an error answer from a server is a 502. Programming errors (UsageError)
are left alone: they are bugs, and Django answers 500.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from syncclients import CircuitOpenError, MCPError, SyncClientsError, TransportError

logger = logging.getLogger(__name__)


class SyncClientsErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if isinstance(exc, CircuitOpenError):
            retry_after = max(1, math.ceil(exc.remaining_s))
            response = JsonResponse(
                {
                    "error": "service temporarily unavailable",
                    "reason": "circuit_open",
                    "service": exc.name,
                    "retry_after_s": retry_after,
                },
                status=503,
            )
            response["Retry-After"] = str(retry_after)
            return response
        if isinstance(exc, TransportError):
            # The details (command, exit code, stderr tail) go to the log, not the caller.
            logger.warning("upstream unavailable: %s", exc)
            return JsonResponse(
                {
                    "error": "service unavailable",
                    "reason": "unavailable",
                    "detail": type(exc).__name__,
                },
                status=503,
            )
        if isinstance(exc, MCPError):
            return JsonResponse(
                {"error": "upstream error", "reason": "mcp_error", "code": exc.code}, status=502
            )
        if isinstance(exc, SyncClientsError):
            return JsonResponse(
                {"error": "upstream error", "reason": type(exc).__name__}, status=502
            )
        return None
