"""MCP authorization (OAuth 2.1) for syncclients' HTTP clients.

``OAuth`` is a ``requests`` auth object: pass it as ``auth=`` to ``MCPClient.http``,
``MCPClient.sse`` or ``HTTPClient``. See the README section "MCP authorization".
"""

from __future__ import annotations

from .discovery import Challenge, parse_challenge
from .loopback import LoopbackAuthorizer
from .oauth import ClientCredentials, IdentityAssertion, OAuth, PendingAuthorization
from .storage import FileTokenStorage, MemoryTokenStorage, TokenStorage

__all__ = [
    "Challenge",
    "ClientCredentials",
    "FileTokenStorage",
    "IdentityAssertion",
    "LoopbackAuthorizer",
    "MemoryTokenStorage",
    "OAuth",
    "PendingAuthorization",
    "TokenStorage",
    "parse_challenge",
]
