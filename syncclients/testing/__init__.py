"""Test helpers for code that uses syncclients: local servers on 127.0.0.1 and pytest
fixtures. Nothing here is imported by the library itself."""

from .http_server import LocalHTTPServer, Reply, RequestInfo
from .platform_server import Fault, PlatformServer, SeenRequest

__all__ = ["Fault", "LocalHTTPServer", "PlatformServer", "Reply", "RequestInfo", "SeenRequest"]
