"""Fixtures: fake provider servers on 127.0.0.1 and providers on the real SDKs pointed at them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from syncclients.config import BreakerPolicy, RetryPolicy
from syncclients.llm import (
    AnthropicProvider,
    AzureOpenAIProvider,
    GeminiProvider,
    OpenAIProvider,
    Provider,
)
from syncclients.testing.llm_server import FakeLLMServer

FLAVORS = ("openai", "azure", "anthropic", "gemini")
KEYS = {
    "openai": "sk-test-openai",
    "azure": "az-test-key",
    "anthropic": "ak-test-key",
    "gemini": "gk-test-key",
}

#: fast retries for tests: 3 attempts, 10 ms base backoff, 10 s deadline
FAST_RETRY = RetryPolicy(max_attempts=3, initial_delay_s=0.01, max_delay_s=0.05, deadline_s=10.0)


def make_provider(flavor: str, server: FakeLLMServer, **kwargs: Any) -> Provider:
    """A provider of ``flavor`` on its SDK, pointed at ``server``."""
    kwargs.setdefault("retry", FAST_RETRY)
    kwargs.setdefault("timeout", 5.0)
    kwargs.setdefault("hooks", ())
    if flavor == "openai":
        return OpenAIProvider(
            model="fake-model", api_key=KEYS[flavor], base_url=server.base_url, **kwargs
        )
    if flavor == "azure":
        return AzureOpenAIProvider(
            model="gpt-4o",
            deployment="my-deployment",
            endpoint=server.url,
            api_version="2024-10-21",
            api_key=KEYS[flavor],
            **kwargs,
        )
    if flavor == "anthropic":
        return AnthropicProvider(
            model="fake-model", api_key=KEYS[flavor], base_url=server.base_url, **kwargs
        )
    return GeminiProvider(
        model="fake-model", api_key=KEYS[flavor], base_url=server.base_url, **kwargs
    )


@pytest.fixture
def servers() -> Iterator[Callable[[str], FakeLLMServer]]:
    """A factory of started fake servers; all are stopped at teardown."""
    started: list[FakeLLMServer] = []

    def start(flavor: str) -> FakeLLMServer:
        server = FakeLLMServer(flavor).start()  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def providers() -> Iterator[Callable[..., Provider]]:
    """A factory of providers (``make_provider`` arguments); all are closed at teardown."""
    made: list[Provider] = []

    def make(flavor: str, server: FakeLLMServer, **kwargs: Any) -> Provider:
        provider = make_provider(flavor, server, **kwargs)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()


@pytest.fixture(params=FLAVORS)
def flavor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(flavor: str, servers: Callable[[str], FakeLLMServer]) -> FakeLLMServer:
    return servers(flavor)


@pytest.fixture
def provider(flavor: str, server: FakeLLMServer, providers: Callable[..., Provider]) -> Provider:
    return providers(flavor, server, breaker=BreakerPolicy(failure_threshold=50))
