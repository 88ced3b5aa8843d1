"""build_provider and the echo provider."""
from __future__ import annotations

import pytest

from backend.providers.llm.base import CompletionRequest, Finished, ProviderConfig, TextDelta
from backend.providers.llm.echo import EchoProvider
from backend.providers.llm.openai_provider import OpenAIProvider
from backend.providers.llm.registry import PROVIDER_FACTORIES, build_provider, close_provider


def test_echo_streams_a_deterministic_reply_about_the_subject(
        completion_request: CompletionRequest) -> None:
    provider = build_provider(ProviderConfig(name="bench", kind="echo"))

    first = list(provider.stream(completion_request, 1.0))
    second = list(provider.stream(completion_request, 1.0))

    assert first == second
    *deltas, finished = first
    assert len(deltas) > 3 and all(isinstance(d, TextDelta) for d in deltas)
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == (
        "Thanks for your message about Invoice 42. I will get back to you shortly.")
    assert isinstance(finished, Finished) and finished.finish_reason == "stop"
    assert finished.usage is not None and finished.usage.prompt_tokens > 0
    assert finished.usage.completion_tokens > 0


def test_each_openai_kind_builds_an_openai_provider() -> None:
    configs = [
        ProviderConfig(name="o", kind="openai", model="gpt-4o-mini", api_key="sk-x"),
        ProviderConfig(name="a", kind="azure", base_url="https://x.example", api_key="k",
                       api_version="2024-10-21", deployment="d"),
        ProviderConfig(name="c", kind="compatible", model="llama3",
                       base_url="http://127.0.0.1:11434/v1"),
    ]
    for config in configs:
        provider = build_provider(config)
        try:
            assert isinstance(provider, OpenAIProvider)
            assert (provider.name, provider.timeout_s) == (config.name, 30.0)
        finally:
            close_provider(provider)


def test_azure_provider_reports_its_deployment_as_model() -> None:
    provider = build_provider(ProviderConfig(name="a", kind="azure", model="gpt-4o",
                                             base_url="https://x.example", api_key="k",
                                             api_version="2024-10-21", deployment="drafts"))
    try:
        assert provider.model == "drafts"
    finally:
        close_provider(provider)


def test_unknown_kind_is_refused_with_the_known_kinds() -> None:
    with pytest.raises(ValueError, match="echo"):
        build_provider(ProviderConfig(name="x", kind="offline-typo"))


def test_new_kinds_can_be_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PROVIDER_FACTORIES, "offline", EchoProvider)

    assert isinstance(build_provider(ProviderConfig(name="off", kind="offline")), EchoProvider)
