"""Clients for the platform's services, each on :class:`~syncclients.HTTPClient`.

See ``shared/docs/platform-services.md`` for the contract and the README section
"Platform services" for the choices made where the contract is inconsistent.
"""

from .adaptor import AdaptorServiceClient, ExecutionResult, IntegrationStatus, OperationResult
from .analytics import AnalyticsClient, AnalyticsEvent, AnalyticsMetrics, IngestResult
from .base import DEFAULT_BREAKER, DEFAULT_RETRY, ServiceClient, ServiceHealth
from .cache import CacheClient, CacheLookup, CacheWrite
from .discovery import (
    ConsulDiscovery,
    EndpointSet,
    EnvDiscovery,
    ServiceDiscovery,
    ServiceNotFoundError,
    StaticDiscovery,
)
from .model_orchestrator import (
    EntitiesResult,
    Entity,
    GeneratedResponse,
    IntentResult,
    ModelOrchestratorClient,
    ModelStatus,
    SentimentResult,
)
from .network import NETWORK_BREAKER, NetworkMCPClient, ToolResult
from .openapi import OpenAPIClient, OpenAPIOperation, RequestValidationError, platform_openapi
from .security import AuthorizationDecision, SecurityHubClient, TokenValidation
from .settings import SERVICES, ServiceSettings
from .spool import FileSpool

__all__ = [
    "DEFAULT_BREAKER",
    "DEFAULT_RETRY",
    "NETWORK_BREAKER",
    "SERVICES",
    "AdaptorServiceClient",
    "AnalyticsClient",
    "AnalyticsEvent",
    "AnalyticsMetrics",
    "AuthorizationDecision",
    "CacheClient",
    "CacheLookup",
    "CacheWrite",
    "ConsulDiscovery",
    "EndpointSet",
    "EntitiesResult",
    "Entity",
    "EnvDiscovery",
    "ExecutionResult",
    "FileSpool",
    "GeneratedResponse",
    "IngestResult",
    "IntegrationStatus",
    "IntentResult",
    "ModelOrchestratorClient",
    "ModelStatus",
    "NetworkMCPClient",
    "OpenAPIClient",
    "OpenAPIOperation",
    "OperationResult",
    "RequestValidationError",
    "SecurityHubClient",
    "SentimentResult",
    "ServiceClient",
    "ServiceDiscovery",
    "ServiceHealth",
    "ServiceNotFoundError",
    "ServiceSettings",
    "StaticDiscovery",
    "TokenValidation",
    "ToolResult",
    "platform_openapi",
]
