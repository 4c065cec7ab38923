"""AdaptorServiceClient: third-party integrations (contract section 3)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from ..config import USE_CLIENT_DEFAULT
from ..errors import SyncClientsError, UsageError
from .base import FallbackArg, ServiceClient

__all__ = [
    "AdaptorServiceClient",
    "ExecutionResult",
    "IntegrationStatus",
    "OperationResult",
]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _seg(value: str) -> str:
    if not isinstance(value, str) or value in ("", ".", ".."):
        raise UsageError(f"an integration id must be a non-empty string, got {value!r}")
    return quote(value, safe="")


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """``execute_integration``'s result.

    Attributes:
        success: True only when the integration answered a ``status_code`` below 400 (a
            reply without one is not a success: inconsistency 5).
        status_code: the integration's HTTP status, 0 when absent.
        data: ``result.response_data`` ({} when absent).
        error: ``result.error_message``, the failure (fallback), or None.
        execution_time_ms, retry_count, cache_hit: from ``execution_metadata``.
        execution_id: the id sent (``exec_<UTC ISO-8601>_<random hex>``: unique, unlike
            the contract's bare timestamp, inconsistency 4).
        fallback: True when this is the canned result of a failed call (then
            ``client_error`` is True and ``error`` holds the exception).
        raw: the reply's ``data`` object.
    """

    success: bool
    status_code: int
    data: Any
    error: Any
    execution_time_ms: float
    execution_id: str
    retry_count: int = 0
    cache_hit: bool = False
    fallback: bool = False
    client_error: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class IntegrationStatus:
    """``get_integration_status``'s result ("unknown"/"unknown" as fallback)."""

    status: str
    health: str
    fallback: bool = False
    error: SyncClientsError | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class OperationResult:
    """The result of test, create, update, delete and list operations.

    Attributes:
        success: the operation was done (for ``list``: the list was read).
        data: the reply's ``data`` (create/update/test), the integrations (list), or {}.
        fallback: True when this is the canned result of a failed call.
        error: the failure when ``fallback``, else None.
        raw: the reply's ``data`` object.
    """

    success: bool
    data: Any = None
    fallback: bool = False
    error: SyncClientsError | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


class AdaptorServiceClient(ServiceClient):
    """The Adaptor Service (service ``adaptor_service``).

    GET, PUT and DELETE are retried after sending; ``execute``, ``test`` and ``create``
    (POST, side effects on third parties) are retried only when nothing was sent.
    """

    service = "adaptor_service"

    def execute_integration(
        self,
        integration_id: str,
        *,
        endpoint: str,
        method: str = "GET",
        input_data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_ms: int = 5000,
        tenant_id: str | None = None,
        fallback: FallbackArg = USE_CLIENT_DEFAULT,
    ) -> ExecutionResult:
        """Run an integration (POST ``.../{id}/execute``; whole call ``timeout_ms``/1000 + 5 s).

        Returns:
            An :class:`ExecutionResult`.

        Raises:
            SyncClientsError: the call failed and no fallback was asked for.
            UsageError: an empty id or a non-positive ``timeout_ms``.
        """
        if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or timeout_ms <= 0:
            raise UsageError(f"timeout_ms must be an int > 0, got {timeout_ms!r}")
        now = _now()
        execution_id = f"exec_{now}_{uuid.uuid4().hex[:12]}"
        tenant = tenant_id if tenant_id is not None else self.tenant_id
        body = {
            "execution_id": execution_id,
            "endpoint": endpoint,
            "method": method,
            "input_data": dict(input_data or {}),
            "headers": dict(headers or {}),
            "timeout_override_ms": timeout_ms,
            "metadata": {"tenant_id": tenant, "source": "mcp_engine", "timestamp": now},
        }
        path = f"api/v2/integrations/{_seg(integration_id)}/execute"

        def call() -> ExecutionResult:
            reply, _ = self._call(
                "POST", path, json=body, timeout_s=timeout_ms / 1000 + 5, tenant_id=tenant_id
            )
            data = self._data(reply)
            raw_result = data.get("result")
            result: dict[str, Any] = raw_result if isinstance(raw_result, dict) else {}
            raw_meta = data.get("execution_metadata")
            meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
            status = result.get("status_code")
            code = status if isinstance(status, int) and not isinstance(status, bool) else None
            error = result.get("error_message")
            if code is None and error is None:
                error = "the reply carried no status_code"
            return ExecutionResult(
                success=code is not None and 0 < code < 400,
                status_code=code or 0,
                data=result.get("response_data", {}),
                error=error,
                execution_time_ms=float(meta.get("execution_time_ms") or 0),
                execution_id=str(data.get("execution_id") or execution_id),
                retry_count=int(meta.get("retry_count") or 0),
                cache_hit=bool(meta.get("cache_hit", False)),
                raw=data,
            )

        return self._guard(
            fallback,
            call,
            lambda e: ExecutionResult(
                False, 0, {}, e, 0.0, execution_id, fallback=True, client_error=True
            ),
            "execute_integration",
        )

    def test_integration(
        self,
        integration_id: str,
        test_case: Mapping[str, Any] | None = None,
        *,
        tenant_id: str | None = None,
        fallback: FallbackArg = USE_CLIENT_DEFAULT,
    ) -> OperationResult:
        """POST ``.../{id}/test`` with ``{test_case}`` or no body (10 s).

        Returns:
            An :class:`OperationResult`; ``success`` from the reply's ``success`` (True
            when absent), ``data`` the reply's ``data``.

        Raises:
            SyncClientsError: the call failed and no fallback was asked for.
        """
        path = f"api/v2/integrations/{_seg(integration_id)}/test"

        def call() -> OperationResult:
            body = {"test_case": dict(test_case)} if test_case else None
            reply, _ = self._call("POST", path, json=body, timeout_s=10.0, tenant_id=tenant_id)
            data = self._data(reply)
            return OperationResult(bool(data.get("success", True)), data, raw=data)

        return self._guard(
            fallback,
            call,
            lambda e: OperationResult(
                False, {"success": False, "test_results": []}, fallback=True, error=e
            ),
            "test_integration",
        )

    def get_integration_status(
        self,
        integration_id: str,
        *,
        tenant_id: str | None = None,
        fallback: FallbackArg = USE_CLIENT_DEFAULT,
    ) -> IntegrationStatus:
        """GET ``.../{id}/status`` (5 s).

        Raises:
            SyncClientsError: the call failed and no fallback was asked for.
        """
        path = f"api/v2/integrations/{_seg(integration_id)}/status"

        def call() -> IntegrationStatus:
            reply, _ = self._call("GET", path, timeout_s=5.0, tenant_id=tenant_id)
            data = self._data(reply)
            return IntegrationStatus(
                str(data.get("status") or "unknown"), str(data.get("health") or "unknown"), raw=data
            )

        return self._guard(
            fallback,
            call,
            lambda e: IntegrationStatus("unknown", "unknown", fallback=True, error=e),
            "get_integration_status",
        )

    def list_integrations(
        self,
        *,
        category: str | None = None,
        status: str | None = None,
        tenant_id: str | None = None,
        fallback: FallbackArg = USE_CLIENT_DEFAULT,
    ) -> OperationResult:
        """GET ``/api/v2/integrations`` with ``category``/``status`` when given (10 s).

        Returns:
            An :class:`OperationResult` whose ``data`` is a list of integration dicts.

        Raises:
            SyncClientsError: the call failed and no fallback was asked for.
        """

        def call() -> OperationResult:
            reply, _ = self._call(
                "GET",
                "api/v2/integrations",
                params={"category": category, "status": status},
                timeout_s=10.0,
                tenant_id=tenant_id,
            )
            data = self._data(reply)
            items = data.get("integrations")
            return OperationResult(True, list(items) if isinstance(items, list) else [], raw=data)

        return self._guard(
            fallback,
            call,
            lambda e: OperationResult(False, [], fallback=True, error=e),
            "list_integrations",
        )

    def create_integration(
        self,
        config: Mapping[str, Any],
        *,
        tenant_id: str | None = None,
        fallback: FallbackArg = USE_CLIENT_DEFAULT,
    ) -> OperationResult:
        """POST ``/api/v2/integrations`` with ``config`` (must have ``name``; 15 s).

        Raises:
            SyncClientsError: the call failed and no fallback was asked for.
            UsageError: ``config`` has no ``name``.
        """
        if not config.get("name"):
            raise UsageError("an integration config needs a 'name'")

        def call() -> OperationResult:
            reply, _ = self._call(
                "POST",
                "api/v2/integrations",
                json=dict(config),
                timeout_s=15.0,
                tenant_id=tenant_id,
            )
            data = self._data(reply)
            return OperationResult(bool(data.get("success", True)), data, raw=data)

        return self._guard(
            fallback,
            call,
            lambda e: OperationResult(False, {"success": False}, fallback=True, error=e),
            "create_integration",
        )

    def update_integration(
        self,
        integration_id: str,
        changes: Mapping[str, Any],
        *,
        tenant_id: str | None = None,
        fallback: FallbackArg = USE_CLIENT_DEFAULT,
    ) -> OperationResult:
        """PUT ``.../{id}`` with a partial config (10 s; retried: PUT is idempotent).

        Raises:
            SyncClientsError: the call failed and no fallback was asked for.
        """
        path = f"api/v2/integrations/{_seg(integration_id)}"

        def call() -> OperationResult:
            reply, _ = self._call(
                "PUT", path, json=dict(changes), timeout_s=10.0, tenant_id=tenant_id
            )
            data = self._data(reply)
            return OperationResult(bool(data.get("success", True)), data, raw=data)

        return self._guard(
            fallback,
            call,
            lambda e: OperationResult(False, {"success": False}, fallback=True, error=e),
            "update_integration",
        )

    def delete_integration(
        self,
        integration_id: str,
        *,
        tenant_id: str | None = None,
        fallback: FallbackArg = USE_CLIENT_DEFAULT,
    ) -> OperationResult:
        """DELETE ``.../{id}`` (10 s). ``success`` True when deleted.

        Raises:
            SyncClientsError: the call failed and no fallback was asked for.
        """
        path = f"api/v2/integrations/{_seg(integration_id)}"

        def call() -> OperationResult:
            reply, _ = self._call("DELETE", path, timeout_s=10.0, tenant_id=tenant_id)
            data = reply.get("data") if isinstance(reply, dict) else None
            return OperationResult(True, data or {}, raw=data if isinstance(data, dict) else {})

        return self._guard(
            fallback,
            call,
            lambda e: OperationResult(False, {}, fallback=True, error=e),
            "delete_integration",
        )
