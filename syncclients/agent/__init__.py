"""The agent loop: a model's tool calls run through MCP servers (see :func:`run_agent`).

Schema conversion lives with the providers (:mod:`syncclients.llm.schema`: OpenAI strict
mode, Gemini's legacy ``parameters``); tool naming and result conversion in :mod:`.tools`.
"""

from .loop import (
    AgentEvent,
    AgentResult,
    FinalEvent,
    ModelTurnEvent,
    ToolCallFinished,
    ToolCallRecord,
    ToolCallStarted,
    iter_agent,
    run_agent,
)
from .tools import AgentTool, collect_tools, provider_name

__all__ = [
    "AgentEvent",
    "AgentResult",
    "AgentTool",
    "FinalEvent",
    "ModelTurnEvent",
    "ToolCallFinished",
    "ToolCallRecord",
    "ToolCallStarted",
    "collect_tools",
    "iter_agent",
    "provider_name",
    "run_agent",
]
