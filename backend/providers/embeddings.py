"""Embeddings from the configured provider, for optional hybrid ranking of knowledge passages.

Off unless REPLYWISE_KB_EMBEDDING_MODEL is set. The client is the provider chain's first
OpenAI-compatible entry (OpenAI, Azure OpenAI or a compatible server), with its own key, URL
and timeout: embeddings go where the tenant's drafts may already go.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from backend.providers.llm.base import ProviderConfig


class Embedder(Protocol):
    """Turns texts into vectors (one per text, same order)."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class OpenAIEmbedder:
    """The embeddings endpoint of an OpenAI-compatible provider."""

    def __init__(self, config: ProviderConfig, model: str, dimensions: int = 0):
        from backend.providers.llm.openai_provider import _make_client

        self.name = config.name
        self.model = model
        self.dimensions = dimensions
        self._client = _make_client(config)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        # Shorter vectors (models that can shorten them, e.g. text-embedding-3-*) cost less to
        # store and to search, for a small loss in ranking quality.
        extra = {"dimensions": self.dimensions} if self.dimensions else {}
        answer = self._client.embeddings.create(model=self.model, input=list(texts), **extra)
        return [list(item.embedding) for item in sorted(answer.data, key=lambda d: d.index)]

    def close(self) -> None:
        self._client.close()


def build_embedder(providers: Sequence[ProviderConfig], model: str,
                   dimensions: int = 0) -> Embedder | None:
    """An embedder on the first OpenAI-compatible provider, or None (hybrid ranking off)."""
    if not model:
        return None
    for config in providers:
        if config.kind in {"openai", "azure", "compatible"}:
            return OpenAIEmbedder(config, model, dimensions)
    return None
