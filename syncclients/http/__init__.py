"""HTTP: :class:`HTTPClient` and the auth helpers that ship with it."""

from .auth import APIKeyAuth, BasicAuth, BearerAuth, OAuth2ClientCredentials
from .client import ClientMetrics, HealthReport, HTTPClient

__all__ = [
    "APIKeyAuth",
    "BasicAuth",
    "BearerAuth",
    "ClientMetrics",
    "HTTPClient",
    "HealthReport",
    "OAuth2ClientCredentials",
]
