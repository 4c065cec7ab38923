"""Test helpers for code that uses syncclients: local servers on 127.0.0.1 and pytest
fixtures. Nothing here is imported by the library itself."""

from .http_server import LocalHTTPServer, Reply, RequestInfo
from .oauth_server import AuthServers

__all__ = ["AuthServers", "LocalHTTPServer", "Reply", "RequestInfo"]
