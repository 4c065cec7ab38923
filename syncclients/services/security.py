"""SecurityHubClient: token validation, authorization decisions with a short decision cache,
and audit events (contract section 5, PROPOSED ``security_hub``).

Fallbacks are safe by construction: a failed validation may only fall back to "invalid", a
failed authorization only to "deny", and an audit event has no fallback (it raises).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from cachetools import TLRUCache

from ..config import USE_CLIENT_DEFAULT
from ..errors import SyncClientsError, UsageError
from .base import FallbackArg, ServiceClient

__all__ = ["AuthorizationDecision", "SecurityHubClient", "TokenValidation"]


@dataclass(frozen=True, slots=True)
class TokenValidation:
    """``validate_token``'s result.

    Attributes:
        valid: the token is valid (always False for a fallback).
        subject, tenant_id: who the token is for, or None.
        scopes: the token's scopes.
        expires_at: when it expires (as the service sent it), or None.
        fallback: True when this is the "invalid" fallback of a failed call.
        error: the failure when ``fallback``.
        raw: the reply's ``data``.
    """

    valid: bool
    subject: str | None = None
    tenant_id: str | None = None
    scopes: tuple[str, ...] = ()
    expires_at: Any = None
    fallback: bool = False
    error: SyncClientsError | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class AuthorizationDecision:
    """``authorize``'s result.

    Attributes:
        allowed: the action is allowed (always False for a fallback).
        reason, policy_id: as the service sent them.
        ttl_s: how long the service lets this decision be reused, seconds (0: not cached).
        cached: True when it came from the client's decision cache.
        fallback: True when this is the "deny" fallback of a failed call (never cached).
        error: the failure when ``fallback``.
        raw: the reply's ``data``.
    """

    allowed: bool
    reason: str | None = None
    policy_id: str | None = None
    ttl_s: float = 0.0
    cached: bool = False
    fallback: bool = False
    error: SyncClientsError | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


class SecurityHubClient(ServiceClient):
    """The Security Hub (service ``security_hub``); every operation has a 5 s whole-call limit.

    Validation and authorization are read-only (retried after sending); audit events carry
    an ``event_id`` sent as the ``Idempotency-Key``, so they are retried too.

    Args:
        base_url: ``external_services.security_hub_url``.
        decision_cache_size: decisions kept (0 disables the cache).
        max_decision_ttl_s: the longest a decision is reused, whatever ``ttl_s`` says.
        **kwargs: see :class:`~syncclients.services.ServiceClient`.
    """

    service = "security_hub"

    def __init__(
        self,
        base_url: str,
        *,
        decision_cache_size: int = 1024,
        max_decision_ttl_s: float = 60.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(base_url, **kwargs)
        if decision_cache_size < 0 or max_decision_ttl_s < 0:
            raise UsageError("decision_cache_size and max_decision_ttl_s must be >= 0")
        self.max_decision_ttl_s = max_decision_ttl_s
        self._decisions: TLRUCache[tuple[Any, ...], AuthorizationDecision] | None = (
            TLRUCache(
                maxsize=decision_cache_size,
                ttu=lambda _k, v, now: now + min(v.ttl_s, self.max_decision_ttl_s),
            )
            if decision_cache_size
            else None
        )
        self._decisions_lock = threading.Lock()

    def validate_token(
        self,
        token: str,
        *,
        audience: str | None = None,
        tenant_id: str | None = None,
        fallback: FallbackArg = USE_CLIENT_DEFAULT,
    ) -> TokenValidation:
        """POST ``/api/v2/security/tokens/validate`` (5 s). The token is never logged.

        Returns:
            A :class:`TokenValidation` (``valid=False`` as fallback).

        Raises:
            SyncClientsError: the call failed and no fallback was asked for.
            UsageError: an empty token.
        """
        if not token:
            raise UsageError("token must not be empty")

        def call() -> TokenValidation:
            reply, _ = self._call(
                "POST",
                "api/v2/security/tokens/validate",
                json={"token": token, "audience": audience},
                timeout_s=5.0,
                idempotent=True,
                tenant_id=tenant_id,
            )
            data = self._data(reply)
            scopes = data.get("scopes")
            return TokenValidation(
                valid=data.get("valid") is True,
                subject=data.get("subject"),
                tenant_id=data.get("tenant_id"),
                scopes=tuple(scopes) if isinstance(scopes, list) else (),
                expires_at=data.get("expires_at"),
                raw=data,
            )

        return self._guard(
            fallback,
            call,
            lambda e: TokenValidation(False, fallback=True, error=e),
            "validate_token",
        )

    def authorize(
        self,
        subject: str,
        action: str,
        resource: str,
        *,
        context: Mapping[str, Any] | None = None,
        tenant_id: str | None = None,
        use_cache: bool = True,
        fallback: FallbackArg = USE_CLIENT_DEFAULT,
    ) -> AuthorizationDecision:
        """POST ``/api/v2/security/authorize`` (5 s), or a cached decision.

        A decision is reused for ``min(ttl_s, max_decision_ttl_s)`` seconds for the same
        tenant, subject, action, resource and context; a fallback is never cached.

        Returns:
            An :class:`AuthorizationDecision` (deny as fallback).

        Raises:
            SyncClientsError: the call failed and no fallback was asked for.
        """
        ctx = dict(context or {})
        tenant = tenant_id if tenant_id is not None else self.tenant_id
        key = (tenant, subject, action, resource, json.dumps(ctx, sort_keys=True, default=str))
        if use_cache and self._decisions is not None:
            with self._decisions_lock:
                hit = self._decisions.get(key)
            if isinstance(hit, AuthorizationDecision):
                return replace(hit, cached=True)

        def call() -> AuthorizationDecision:
            reply, _ = self._call(
                "POST",
                "api/v2/security/authorize",
                json={"subject": subject, "action": action, "resource": resource, "context": ctx},
                timeout_s=5.0,
                idempotent=True,
                tenant_id=tenant_id,
            )
            data = self._data(reply)
            ttl = data.get("ttl_s")
            decision = AuthorizationDecision(
                allowed=data.get("allowed") is True,  # anything but a literal true denies
                reason=data.get("reason"),
                policy_id=data.get("policy_id"),
                ttl_s=float(ttl) if isinstance(ttl, int | float) and ttl > 0 else 0.0,
                raw=data,
            )
            if decision.ttl_s > 0 and self._decisions is not None:
                with self._decisions_lock:
                    self._decisions[key] = decision
            return decision

        return self._guard(
            fallback,
            call,
            lambda e: AuthorizationDecision(False, "fallback: deny", fallback=True, error=e),
            "authorize",
        )

    def clear_decisions(self) -> None:
        """Forget every cached decision (after a policy change)."""
        if self._decisions is not None:
            with self._decisions_lock:
                self._decisions.clear()

    def audit_event(
        self,
        subject: str,
        action: str,
        resource: str,
        outcome: str,
        *,
        details: Mapping[str, Any] | None = None,
        event_id: str | None = None,
        timestamp: str | None = None,
        tenant_id: str | None = None,
    ) -> bool:
        """POST ``/api/v2/security/audit-events`` (5 s). No fallback: an audit record that
        was not stored must not look stored.

        Returns:
            The service's ``accepted``.

        Raises:
            SyncClientsError: the call failed (after retries under the event's idempotency key).
        """
        event_id = event_id or str(uuid.uuid4())
        body = {
            "event_id": event_id,
            "timestamp": timestamp or datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
            "subject": subject,
            "action": action,
            "resource": resource,
            "outcome": outcome,
            "details": dict(details or {}),
        }
        reply, _ = self._call(
            "POST",
            "api/v2/security/audit-events",
            json=body,
            timeout_s=5.0,
            headers={"Idempotency-Key": event_id},
            tenant_id=tenant_id,
        )
        return self._data(reply).get("accepted") is True
