"""ServiceSettings: where the platform services are and how to call them.

The contract (``shared/docs/platform-services.md`` section 1) keys each base URL as
``external_services.<service>_url``. The same keys are read from keyword arguments, a
(nested or dotted) mapping, or environment variables
(``EXTERNAL_SERVICES__<SERVICE>_URL``, e.g. ``EXTERNAL_SERVICES__CACHE_URL``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError

__all__ = ["SERVICES", "ServiceSettings"]

#: The platform's services, by their contract names.
SERVICES = (
    "model_orchestrator",
    "adaptor_service",
    "security_hub",
    "analytics_engine",
    "cache",
)

_ENV_PREFIX = "EXTERNAL_SERVICES__"


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """Frozen settings shared by the platform service clients.

    Args:
        urls: base URL per service name (``{"cache": "http://cache:8080"}``); a trailing
            ``/`` is dropped, a base path is kept.
        tenant_id: the default tenant sent as ``X-Tenant-ID``; None: no header.
        api_key: a key sent as ``X-API-Key`` (never shown in ``repr``); None: no key.
        timeout_s: the whole-call timeout of operations the contract gives none, seconds.
        fallback: the clients' default for ``fallback=`` (False: failures raise).
    """

    urls: Mapping[str, str] = field(default_factory=dict)
    tenant_id: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = 30.0
    fallback: bool = False

    def __post_init__(self) -> None:
        clean: dict[str, str] = {}
        for name, url in dict(self.urls).items():
            if not isinstance(url, str) or "://" not in url:
                raise UsageError(f"external_services.{name}_url must be an absolute URL")
            clean[name] = url.rstrip("/")
        object.__setattr__(self, "urls", clean)
        if isinstance(self.timeout_s, bool) or not self.timeout_s > 0:
            raise UsageError(f"timeout_s must be seconds > 0, got {self.timeout_s!r}")

    def url_for(self, service: str) -> str:
        """The base URL of ``service``.

        Raises:
            UsageError: no ``external_services.<service>_url`` is configured.
        """
        try:
            return self.urls[service]
        except KeyError:
            raise UsageError(
                f"no URL for {service!r}: set external_services.{service}_url"
            ) from None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServiceSettings:
        """Build settings from a mapping with the contract's keys.

        Accepts nested ``{"external_services": {"cache_url": ...}}`` or dotted
        ``{"external_services.cache_url": ...}`` keys, plus ``tenant_id``, ``api_key``,
        ``timeout_s`` and ``fallback``.

        Raises:
            UsageError: a URL that is not absolute, or an unknown ``*_url`` shape.
        """
        urls: dict[str, str] = {}
        nested = data.get("external_services") or {}
        if not isinstance(nested, Mapping):
            raise UsageError("external_services must be a mapping")
        items = [(str(k), v) for k, v in nested.items()]
        items += [
            (k.split(".", 1)[1], v)
            for k, v in data.items()
            if isinstance(k, str) and k.startswith("external_services.")
        ]
        for key, value in items:
            if key.endswith("_url"):
                urls[key[: -len("_url")]] = value
        return cls(
            urls=urls,
            tenant_id=data.get("tenant_id"),
            api_key=data.get("api_key"),
            timeout_s=float(data.get("timeout_s", 30.0)),
            fallback=bool(data.get("fallback", False)),
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceSettings:
        """Build settings from environment variables.

        ``EXTERNAL_SERVICES__<SERVICE>_URL`` for each URL, ``SERVICES_TENANT_ID``,
        ``SERVICES_API_KEY``, ``SERVICES_TIMEOUT_S`` and ``SERVICES_FALLBACK`` (``1``/``true``).

        Args:
            environ: the variables to read; None: ``os.environ``.
        """
        env = os.environ if environ is None else environ
        urls = {
            key[len(_ENV_PREFIX) : -len("_URL")].lower(): value
            for key, value in env.items()
            if key.startswith(_ENV_PREFIX) and key.endswith("_URL")
        }
        return cls(
            urls=urls,
            tenant_id=env.get("SERVICES_TENANT_ID") or None,
            api_key=env.get("SERVICES_API_KEY") or None,
            timeout_s=float(env.get("SERVICES_TIMEOUT_S") or 30.0),
            fallback=(env.get("SERVICES_FALLBACK") or "").lower() in ("1", "true", "yes"),
        )
