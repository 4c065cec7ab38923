"""A small official-SDK (mcp 2.3.0) MCPServer used as the stdio interop peer.

Run as ``python sdk_server.py``; serves both eras over stdio.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Annotated

from mcp.server.mcpserver import Context, Elicit, ListRoots, MCPServer, Resolve, Sample
from mcp_types import Completion, ListRootsResult, SamplingMessage, TextContent, ToolAnnotations
from pydantic import BaseModel

mcp = MCPServer("sdk-test-server", instructions="A test server for syncclients.")


@mcp.tool(annotations=ToolAnnotations(readOnlyHint=True))
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@mcp.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


@mcp.tool()
def fail(message: str) -> str:
    """Always raises."""
    raise ValueError(message)


@mcp.tool()
async def sleep(seconds: float, ctx: Context) -> str:
    """Sleep, reporting progress; records cancellation on stderr."""
    try:
        steps = 4
        for i in range(steps):
            await ctx.report_progress(i, steps, f"step {i}")
            await asyncio.sleep(seconds / steps)
        await ctx.report_progress(steps, steps, "done")
    except asyncio.CancelledError:
        print("SLEEP-CANCELLED", file=sys.stderr, flush=True)
        raise
    return "slept"


@mcp.tool()
def die(code: int) -> str:
    """Exit the server process at once (for crash tests)."""
    print(f"dying with {code}", file=sys.stderr, flush=True)
    os._exit(code)


@mcp.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


@mcp.tool()
def get_env(name: str) -> str:
    """An environment variable of the server ('' when unset)."""
    return os.environ.get(name, "<unset>")


@mcp.tool()
async def log_something(message: str, ctx: Context) -> str:
    """Send a log notification, then return."""
    await ctx.info(message)
    return "logged"


class Person(BaseModel):
    name: str


def ask_person() -> Elicit[Person]:
    return Elicit("Who are you?", Person)


@mcp.tool()
def greet_user(person: Annotated[Person, Resolve(ask_person)]) -> str:
    """Asks the user for their name (elicitation, both eras)."""
    return f"Hello, {person.name}!"


def sample_poem() -> Sample:
    return Sample(
        [SamplingMessage(role="user", content=TextContent(type="text", text="a poem"))],
        max_tokens=20,
    )


@mcp.tool()
def poem(result: Annotated[object, Resolve(sample_poem)]) -> str:
    """Samples the client's LLM."""
    content = getattr(result, "content", None)
    return f"poem: {getattr(content, 'text', content)}"


def get_roots() -> ListRoots:
    return ListRoots()


@mcp.tool()
def count_roots(roots: Annotated[ListRootsResult, Resolve(get_roots)]) -> str:
    """Lists the client's roots."""
    return ",".join(str(r.uri) for r in roots.roots)


@mcp.resource("res://hello", mime_type="text/plain")
def hello() -> str:
    """A static text resource."""
    return "hello world"


@mcp.resource("res://greeting/{name}")
def greeting(name: str) -> str:
    """A templated resource."""
    return f"greetings, {name}"


@mcp.prompt()
def review(code: str, language: str = "python") -> str:
    """Review some code."""
    return f"Please review this {language} code:\n{code}"


@mcp.completion()
async def complete_language(ref: object, argument: object, context: object) -> Completion | None:
    """Completes the ``language`` argument of the ``review`` prompt."""
    if getattr(argument, "name", None) == "language":
        prefix = getattr(argument, "value", "")
        return Completion(values=[x for x in ("python", "perl", "rust") if x.startswith(prefix)])
    return None


@mcp.tool()
async def touch(uris: list[str], ctx: Context) -> str:
    """Announce that resources changed, in order (subscriptions/listen at 2026-07-28)."""
    for uri in uris:
        await ctx.notify_resource_updated(uri)
    return "touched"


if __name__ == "__main__":
    mcp.run()
