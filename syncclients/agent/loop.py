"""The agent loop: a model's tool calls run through MCP servers, bounded and recorded.

Each turn: call the model with the tools; ask ``approve`` for calls of tools not annotated
read-only; run the turn's calls concurrently through :func:`syncclients.batch.run_batch`
(one outcome each, every call capped by what remains of the loop's deadline); feed each
result back as a tool message; stop at a final answer, ``max_turns`` or the deadline.
A failed call, an ``isError`` result, a refused approval or an unknown tool goes back to
the model as an error result (the model decides); none is raised out of the loop.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ..batch import BatchCall, BatchOutcome, run_batch
from ..config import USE_CLIENT_DEFAULT
from ..errors import DeadlineExceeded, UsageError
from ..llm import LLMRouter, OpenAIProvider, Provider
from ..llm.anthropic_provider import AnthropicProvider
from ..llm.gemini_provider import GeminiProvider
from ..llm.types import ChatResponse, Message, ToolCall, Usage, normalize_messages
from ..mcp.types import CallToolResult
from .tools import (
    AgentTool,
    NameRules,
    ToolSource,
    collect_tools,
    image_message_parts,
    result_parts,
    truncate,
)

__all__ = [
    "AgentEvent",
    "AgentResult",
    "FinalEvent",
    "ModelTurnEvent",
    "ToolCallFinished",
    "ToolCallRecord",
    "ToolCallStarted",
    "iter_agent",
    "run_agent",
]

_log = logging.getLogger("syncclients.agent")

StopReason = Literal["final", "max_turns", "deadline"]
ToolStatus = Literal[
    "ok", "tool_error", "error", "deadline", "cancelled", "interrupted", "refused", "unknown_tool"
]


class _LLM(Protocol):
    def generate(self, messages: Iterable[Message], **kwargs: Any) -> ChatResponse: ...


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    """One tool call of the loop.

    Attributes:
        turn: the model turn that asked for it (1-based).
        call_id: the model's call id.
        name: the function name the model called.
        server: the MCP server's name (None for a lone client or an unknown tool).
        tool: the MCP tool's own name (None for an unknown tool).
        arguments: the arguments the model sent.
        status: ``ok``; ``tool_error`` (the result had ``isError``); ``error`` (the call
            raised); ``deadline`` (the loop's deadline passed); ``cancelled``;
            ``interrupted``; ``refused`` (``approve`` said no: nothing sent);
            ``unknown_tool`` (no such tool: nothing sent).
        result_text: what the model was shown (after truncation).
        error: the exception of a failed call (our tree), else None.
        duration_s: how long the call ran, in seconds (0.0 when it was not sent).
    """

    turn: int
    call_id: str
    name: str
    server: str | None
    tool: str | None
    arguments: Mapping[str, Any]
    status: ToolStatus
    result_text: str
    error: BaseException | None = field(default=None, compare=False)
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the tool ran and did not report a failure."""
        return self.status == "ok"


@dataclass(frozen=True, slots=True)
class AgentResult:
    """What :func:`run_agent` returns.

    Attributes:
        text: the final answer's text ("" when the loop stopped before one).
        messages: the whole conversation, the caller's messages first.
        tool_calls: one record per tool call, in the order asked.
        usage: tokens summed over every model turn.
        turns: model turns made.
        stop_reason: ``final`` (the model answered), ``max_turns`` or ``deadline``.
        duration_s: the loop's wall time, in seconds.
    """

    text: str
    messages: tuple[Message, ...]
    tool_calls: tuple[ToolCallRecord, ...]
    usage: Usage
    turns: int
    stop_reason: StopReason
    duration_s: float


@dataclass(frozen=True, slots=True)
class ModelTurnEvent:
    """A model turn ended: ``response`` asked for ``len(response.tool_calls)`` calls."""

    turn: int
    response: ChatResponse
    duration_s: float


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    """A tool call was sent (``call.status`` is not meaningful yet: see the finish event)."""

    turn: int
    call_id: str
    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ToolCallFinished:
    """A tool call ended (or was refused, unknown, or stopped by the deadline)."""

    record: ToolCallRecord


@dataclass(frozen=True, slots=True)
class FinalEvent:
    """The loop ended; the last event."""

    result: AgentResult


AgentEvent = ModelTurnEvent | ToolCallStarted | ToolCallFinished | FinalEvent


def name_rules(llm: Any) -> NameRules:
    """The tool-name rules of ``llm``: its provider's, or the common subset for a router."""
    if isinstance(llm, OpenAIProvider):  # Azure too (a subclass)
        return "openai"
    if isinstance(llm, AnthropicProvider):
        return "anthropic"
    if isinstance(llm, GeminiProvider):
        return "gemini"
    return "any"


def _takes_images(llm: Any) -> bool:
    if isinstance(llm, Provider):
        return llm.capabilities.vision
    if isinstance(llm, LLMRouter):  # failover may land on any of them
        return all(p.capabilities.vision for p in llm.providers)
    return False


def run_agent(
    llm: Provider | LLMRouter,
    tools: ToolSource,
    messages: Iterable[Message | Mapping[str, Any]],
    *,
    max_turns: int = 10,
    deadline_s: float = 300.0,
    max_parallel_tools: int = 8,
    approve: Callable[[ToolCallRecord], bool] | None = None,
    on_event: Callable[[AgentEvent], None] | None = None,
    tool_timeout_s: float | None = None,
    max_result_chars: int = 20_000,
    strict: bool = True,
    **generate_kwargs: Any,
) -> AgentResult:
    """Run the tool loop until the model answers, ``max_turns`` or the deadline.

    Args:
        llm: a provider (:class:`~syncclients.llm.OpenAIProvider`, ...) or an
            :class:`~syncclients.llm.LLMRouter`.
        tools: an :class:`~syncclients.mcp.MCPClient`, an :class:`~syncclients.mcp.MCPGroup`,
            a list of them, or ``{server name: client}`` (see
            :func:`~syncclients.agent.tools.collect_tools` for the names the model sees).
            Listed once at the start; closed by their owner, not here.
        messages: the conversation so far (:class:`~syncclients.llm.Message` values or
            OpenAI-style dicts).
        max_turns: the most model calls (>= 1).
        deadline_s: seconds for the whole loop: each model call and each turn's tool batch
            gets what remains (> 0).
        max_parallel_tools: the most tool calls running at once (>= 1).
        approve: asked (on the calling thread, before the turn's calls run) for every call
            of a tool not annotated ``readOnlyHint: true``, with its :class:`ToolCallRecord`
            (name, server, tool, arguments; its status and result are not set yet); False
            refuses it, and the model is told. None: every call runs. An exception from it
            counts as a refusal (logged).
        on_event: receives each :class:`AgentEvent` on the calling thread, in order.
        tool_timeout_s: seconds each tool call may take; None: only the deadline.
        max_result_chars: a tool result longer than this is cut with a marker; 0: no limit.
        strict: ask for OpenAI strict mode where a tool's schema allows it.
        **generate_kwargs: passed to every ``llm.generate`` call (``temperature``,
            ``max_tokens``, ``provider_options``...).

    Returns:
        The :class:`AgentResult`.

    Raises:
        UsageError: invalid arguments, or two tools with the same model-facing name.
        ProviderError, TransportError, CircuitOpenError: the model call failed after its
            retries (tool failures never raise).
        SyncClientsError: listing a lone client's tools failed.
    """
    result: AgentResult | None = None
    for event in iter_agent(
        llm,
        tools,
        messages,
        max_turns=max_turns,
        deadline_s=deadline_s,
        max_parallel_tools=max_parallel_tools,
        approve=approve,
        tool_timeout_s=tool_timeout_s,
        max_result_chars=max_result_chars,
        strict=strict,
        **generate_kwargs,
    ):
        if on_event is not None:
            on_event(event)
        if isinstance(event, FinalEvent):
            result = event.result
    assert result is not None
    return result


def iter_agent(
    llm: Provider | LLMRouter,
    tools: ToolSource,
    messages: Iterable[Message | Mapping[str, Any]],
    *,
    max_turns: int = 10,
    deadline_s: float = 300.0,
    max_parallel_tools: int = 8,
    approve: Callable[[ToolCallRecord], bool] | None = None,
    tool_timeout_s: float | None = None,
    max_result_chars: int = 20_000,
    strict: bool = True,
    **generate_kwargs: Any,
) -> Iterator[AgentEvent]:
    """The streaming variant of :func:`run_agent`: yields its events as they happen; the
    last one is a :class:`FinalEvent` with the :class:`AgentResult`.

    Arguments, errors and bounds as :func:`run_agent`. A started event comes as each call
    is sent and a finished event as each ends (with its final outcome: a call stopped by
    the deadline is finished as ``deadline``). Refused and unknown calls are finished at
    once, before the others start. Leaving the iterator early stops the loop
    after the current step (running tool calls end by the deadline).
    """
    if isinstance(max_turns, bool) or not isinstance(max_turns, int) or max_turns < 1:
        raise UsageError(f"max_turns must be an int >= 1, got {max_turns!r}")
    if not deadline_s or deadline_s <= 0:
        raise UsageError(f"deadline_s must be > 0, got {deadline_s!r}")
    if max_parallel_tools < 1:
        raise UsageError(f"max_parallel_tools must be >= 1, got {max_parallel_tools!r}")
    started = time.monotonic()
    deadline = started + deadline_s
    history = list(normalize_messages(messages))
    catalog = collect_tools(tools, rules=name_rules(llm), timeout_s=deadline_s)
    llm_tools = [t.as_llm_tool(strict=strict) for t in catalog.values()]
    images = _takes_images(llm)
    records: list[ToolCallRecord] = []
    usage_in = usage_out = 0
    turns = 0
    text = ""
    stop: StopReason = "max_turns"

    def finish() -> FinalEvent:
        return FinalEvent(
            AgentResult(
                text,
                tuple(history),
                tuple(records),
                Usage(usage_in, usage_out),
                turns,
                stop,
                time.monotonic() - started,
            )
        )

    while turns < max_turns:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            stop = "deadline"
            break
        turns += 1
        t0 = time.monotonic()
        try:
            response = llm.generate(
                history, tools=llm_tools or None, deadline_s=remaining, **generate_kwargs
            )
        except DeadlineExceeded:
            stop = "deadline"
            break
        usage_in += response.usage.input_tokens
        usage_out += response.usage.output_tokens
        history.append(response.to_message())
        yield ModelTurnEvent(turns, response, time.monotonic() - t0)
        if not response.tool_calls:
            text = response.text
            stop = "final"
            break
        turn_records: list[ToolCallRecord | None] = [None] * len(response.tool_calls)
        runnable: list[tuple[int, ToolCall, AgentTool]] = []
        for i, call in enumerate(response.tool_calls):
            agent_tool = catalog.get(call.name)
            if agent_tool is None:
                turn_records[i] = ToolCallRecord(
                    turns,
                    call.id,
                    call.name,
                    None,
                    None,
                    call.arguments,
                    "unknown_tool",
                    f"Error: no tool named {call.name!r}.",
                )
                continue
            pending = ToolCallRecord(
                turns,
                call.id,
                call.name,
                agent_tool.server,
                agent_tool.tool.name,
                call.arguments,
                "ok",
                "",
            )
            if approve is not None and not agent_tool.read_only:
                try:
                    allowed = bool(approve(pending))
                except Exception:  # a failing approver refuses
                    _log.warning("approve() raised for %s: refused", call.name, exc_info=True)
                    allowed = False
                if not allowed:
                    turn_records[i] = ToolCallRecord(
                        turns,
                        call.id,
                        call.name,
                        agent_tool.server,
                        agent_tool.tool.name,
                        call.arguments,
                        "refused",
                        "Error: the user refused this tool call; it was not run.",
                    )
                    continue
            runnable.append((i, call, agent_tool))
        for record in turn_records:
            if record is not None:
                yield ToolCallFinished(record)
        image_msgs: list[Message] = []
        yield from _run_calls(
            runnable,
            turns,
            deadline,
            max_parallel_tools,
            tool_timeout_s,
            max_result_chars,
            images,
            turn_records,
            image_msgs,
        )
        for call, record in zip(response.tool_calls, turn_records, strict=True):
            assert record is not None
            records.append(record)
            history.append(
                Message("tool", record.result_text, (), call.id, call.name, not record.ok)
            )
        history.extend(image_msgs)
        if time.monotonic() >= deadline:
            stop = "deadline"
            break
    yield finish()


def _status_text(outcome: BatchOutcome[CallToolResult]) -> str:
    error = outcome.error
    if outcome.status == "deadline":
        return "Error: the tool call did not finish before the deadline."
    return f"Error: the tool call failed: {type(error).__name__}: {error}"


def _run_calls(
    runnable: list[tuple[int, ToolCall, AgentTool]],
    turn: int,
    deadline: float,
    max_parallel: int,
    tool_timeout_s: float | None,
    max_chars: int,
    images: bool,
    turn_records: list[ToolCallRecord | None],
    image_msgs: list[Message],
) -> Iterator[AgentEvent]:
    """Run the calls on the batch engine in a helper thread; yield a started event as each
    is sent and a finished event as each outcome is final; fill ``turn_records``."""
    if not runnable:
        return
    events: queue.SimpleQueue[tuple[str, int, Any]] = queue.SimpleQueue()

    def one(item: tuple[int, ToolCall, AgentTool], call: BatchCall) -> CallToolResult:
        _i, tool_call, agent_tool = item
        events.put(("started", call.index, None))
        timeout: Any = USE_CLIENT_DEFAULT if call.timeout_s is None else call.timeout_s
        return agent_tool.client.call_tool(
            agent_tool.tool.name, agent_tool.arguments_for(tool_call.arguments), timeout=timeout
        )

    def run() -> None:
        try:
            # on_progress runs once per input with its final outcome (deadline and
            # cancelled ones included), on this thread, in the order they end
            run_batch(
                one,
                runnable,
                max_workers=max_parallel,
                timeout=tool_timeout_s,
                deadline=max(0.001, deadline - time.monotonic()),
                result_failed=lambda r: r.is_error,
                description="tool calls",
                on_progress=lambda p: events.put(("finished", p.last.index, p.last)),
            )
        except BaseException as exc:  # handed to the loop's thread, raised there
            events.put(("raised", -1, exc))
        finally:
            events.put(("done", -1, None))

    def record_of(k: int, outcome: BatchOutcome[CallToolResult]) -> ToolCallRecord:
        _i, tool_call, agent_tool = runnable[k]
        shown: tuple[Any, ...] = ()
        if outcome.result is not None:
            text, shown = result_parts(outcome.result, max_chars=max_chars, images=images)
            if outcome.status == "tool_error":
                text = "Error: " + text
        else:
            text = truncate(_status_text(outcome), max_chars)
        if shown:
            image_msgs.append(Message("user", image_message_parts(tool_call.name, shown)))
        status: ToolStatus = outcome.status
        return ToolCallRecord(
            turn,
            tool_call.id,
            tool_call.name,
            agent_tool.server,
            agent_tool.tool.name,
            tool_call.arguments,
            status,
            text,
            outcome.error,
            outcome.duration_s,
        )

    worker = threading.Thread(target=run, name="syncclients-agent-tools", daemon=True)
    worker.start()
    # run_batch returns by the deadline plus its cancel grace: the wait is bounded
    limit = time.monotonic() + max(0.0, deadline - time.monotonic()) + 30.0
    while True:
        kind, k, value = events.get(timeout=max(0.1, limit - time.monotonic()))
        if kind == "done":
            break
        if kind == "raised":
            raise value
        _i, tool_call, _tool = runnable[k]
        if kind == "started":
            yield ToolCallStarted(turn, tool_call.id, tool_call.name, tool_call.arguments)
        else:
            record = record_of(k, value)
            turn_records[runnable[k][0]] = record
            yield ToolCallFinished(record)
    worker.join(timeout=5.0)
