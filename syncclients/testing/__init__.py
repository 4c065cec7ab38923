"""Test helpers for code that uses syncclients: local servers on 127.0.0.1 and pytest
fixtures. Nothing here is imported by the library itself."""

from .http_server import LocalHTTPServer, Reply, RequestInfo
from .llm_server import Answer, FakeLLMServer, Fault, LLMRequest

__all__ = [
    "Answer",
    "FakeLLMServer",
    "Fault",
    "LLMRequest",
    "LocalHTTPServer",
    "Reply",
    "RequestInfo",
]
