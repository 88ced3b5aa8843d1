"""Builds providers from configuration; one factory per provider kind."""
from __future__ import annotations

from collections.abc import Callable

from backend.providers.llm.base import LLMProvider, ProviderConfig
from backend.providers.llm.echo import EchoProvider

ProviderFactory = Callable[[ProviderConfig], LLMProvider]


def _openai_factory(config: ProviderConfig) -> LLMProvider:
    # Imported lazily: the SDK is heavy, and echo/offline-only set-ups (CLI, benchmarks) skip it.
    from backend.providers.llm.openai_provider import OpenAIProvider

    return OpenAIProvider(config)


def _offline_factory(config: ProviderConfig) -> LLMProvider:
    from backend.providers.llm.offline import OfflineProvider

    return OfflineProvider()


# Anything else that speaks LLMProvider can be added the same way.
PROVIDER_FACTORIES: dict[str, ProviderFactory] = {
    "openai": _openai_factory,
    "azure": _openai_factory,
    "compatible": _openai_factory,
    "echo": EchoProvider,
    "offline": _offline_factory,
}


def build_provider(config: ProviderConfig) -> LLMProvider:
    """The provider for one configured entry; ValueError for an unknown kind or bad settings."""
    factory = PROVIDER_FACTORIES.get(config.kind)
    if factory is None:
        known = ", ".join(sorted(PROVIDER_FACTORIES))
        raise ValueError(f"provider {config.name!r}: unknown kind {config.kind!r} (known: {known})")
    return factory(config)


def close_provider(provider: LLMProvider) -> None:
    """Release a provider's connections, if it holds any (at shutdown, or in tests)."""
    close = getattr(provider, "close", None)
    if callable(close):
        close()
