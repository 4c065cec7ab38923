"""MCP (Model Context Protocol) client: synchronous, thread-based, no asyncio.

Layers, lowest first: :mod:`.messages` (JSON-RPC), :mod:`.transport` (interface and mock),
:mod:`.dispatcher` (ids to futures), :mod:`.session` (eras, envelope, input-required),
:mod:`.client` (the :class:`MCPClient` facade). Transports live in
:mod:`syncclients.transports`.
"""

from .audit import AuditRecord
from .client import MCPClient
from .group import GroupTool, GroupToolListing, MCPGroup, ServerHealth
from .metrics import MCPClientMetrics
from .monitor import HealthMonitor, StatusChange
from .permissions import ToolPermissions
from .registry import ReloadResult
from .session import Callbacks, clear_era_cache
from .transport import MockTransport, SendContext, Transport
from .types import (
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    Completion,
    CreateMessageRequest,
    CreateMessageResult,
    ElicitRequest,
    ElicitResult,
    EmbeddedResource,
    GetPromptResult,
    ImageContent,
    Implementation,
    Listing,
    LogMessage,
    Progress,
    Prompt,
    PromptArgument,
    PromptMessage,
    ReadResourceResult,
    Resource,
    ResourceLink,
    ResourceTemplate,
    Root,
    ServerCapabilities,
    ServerNotification,
    TextContent,
    TextResourceContents,
    Tool,
    ToolAnnotations,
    UnknownContent,
)

__all__ = [
    "AudioContent",
    "AuditRecord",
    "BlobResourceContents",
    "CallToolResult",
    "Callbacks",
    "Completion",
    "CreateMessageRequest",
    "CreateMessageResult",
    "ElicitRequest",
    "ElicitResult",
    "EmbeddedResource",
    "GetPromptResult",
    "GroupTool",
    "GroupToolListing",
    "HealthMonitor",
    "ImageContent",
    "Implementation",
    "Listing",
    "LogMessage",
    "MCPClient",
    "MCPClientMetrics",
    "MCPGroup",
    "MockTransport",
    "Progress",
    "Prompt",
    "PromptArgument",
    "PromptMessage",
    "ReadResourceResult",
    "ReloadResult",
    "Resource",
    "ResourceLink",
    "ResourceTemplate",
    "Root",
    "SendContext",
    "ServerCapabilities",
    "ServerHealth",
    "ServerNotification",
    "StatusChange",
    "TextContent",
    "TextResourceContents",
    "Tool",
    "ToolAnnotations",
    "ToolPermissions",
    "Transport",
    "UnknownContent",
    "clear_era_cache",
]
