"""Test helpers for code that uses syncclients: local servers on 127.0.0.1 and pytest
fixtures. Nothing here is imported by the library itself."""

from .http_server import LocalHTTPServer, Reply, RequestInfo
from .llm_server import Answer, FakeLLMServer, LLMRequest
from .llm_server import Fault as LLMFault
from .oauth_server import AuthServers
from .platform_server import Fault as PlatformFault
from .platform_server import PlatformServer, SeenRequest

# Each fake server has its own ``Fault`` (``syncclients.testing.llm_server.Fault``,
# ``syncclients.testing.platform_server.Fault``); here they carry the server's name.
__all__ = [
    "Answer",
    "AuthServers",
    "FakeLLMServer",
    "LLMFault",
    "LLMRequest",
    "LocalHTTPServer",
    "PlatformFault",
    "PlatformServer",
    "Reply",
    "RequestInfo",
    "SeenRequest",
]
