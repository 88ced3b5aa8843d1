"""Fixtures for provider tests: the fake OpenAI server and providers pointed at it."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from backend.drafting.model import Address, ChatMessage, DraftContext, DraftOptions
from backend.providers.llm.base import CompletionRequest, ProviderConfig
from backend.providers.llm.openai_provider import OpenAIProvider
from tests.fakes.openai_server import FakeOpenAIServer  # noqa: F401 - fixture type


@pytest.fixture
def make_provider(openai_server: FakeOpenAIServer) -> Iterator[Callable[..., OpenAIProvider]]:
    """Build OpenAIProviders against the fake server; all are closed after the test."""
    made: list[OpenAIProvider] = []

    def make(name: str = "primary", kind: str = "compatible", **overrides: Any) -> OpenAIProvider:
        settings: dict[str, Any] = {"model": "fake-model", "base_url": openai_server.base_url,
                                    "timeout_s": 5.0}
        if kind == "azure":
            settings.update(base_url=openai_server.root_url, api_key="azure-key",
                            api_version="2024-10-21", deployment="drafts-gpt")
        settings.update(overrides)
        provider = OpenAIProvider(ProviderConfig(name=name, kind=kind, **settings))
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()


@pytest.fixture
def completion_request() -> CompletionRequest:
    """A small, already-redacted drafting request."""
    context = DraftContext(subject="Invoice 42", sender=Address("Ann", "ann@example.com"),
                           latest="Could you send the invoice again?")
    return CompletionRequest(
        messages=(ChatMessage("system", "You draft email replies."),
                  ChatMessage("user", "Could you send the invoice again?")),
        context=context, options=DraftOptions())

