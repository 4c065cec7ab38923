"""Language-model providers on their official SDKs, with our resilience and failover.

Synchronous and thread-safe: one SDK client per provider, shared by all threads, with the
SDK's own retries off and our timeouts passed down. Importing this package needs no SDK:
each provider imports its SDK when constructed and names the extra to install otherwise
(``pip install 'syncclients[openai]'``, ``[anthropic]``, ``[gemini]``).
"""

from .anthropic_provider import AnthropicProvider
from .base import DEFAULT_RETRY, DEFAULT_TIMEOUTS, LLMStream, Provider, ProviderHealth
from .errors import (
    AuthenticationError,
    BadRequestError,
    ContentFilteredError,
    ContextLengthExceededError,
    OverloadedError,
    PermissionDeniedError,
    ProviderError,
    ProviderServerError,
    RateLimitedError,
)
from .gemini_provider import GeminiProvider
from .openai_provider import AzureOpenAIProvider, OpenAIProvider
from .ratelimit import RateLimit
from .router import LLMRouter
from .types import (
    Capabilities,
    ChatResponse,
    ImagePart,
    Message,
    ResponseFormat,
    StreamDone,
    StreamEvent,
    TextDelta,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
)

__all__ = [
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUTS",
    "AnthropicProvider",
    "AuthenticationError",
    "AzureOpenAIProvider",
    "BadRequestError",
    "Capabilities",
    "ChatResponse",
    "ContentFilteredError",
    "ContextLengthExceededError",
    "GeminiProvider",
    "ImagePart",
    "LLMRouter",
    "LLMStream",
    "Message",
    "OpenAIProvider",
    "OverloadedError",
    "PermissionDeniedError",
    "Provider",
    "ProviderError",
    "ProviderHealth",
    "ProviderServerError",
    "RateLimit",
    "RateLimitedError",
    "ResponseFormat",
    "StreamDone",
    "StreamEvent",
    "TextDelta",
    "TextPart",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
]
