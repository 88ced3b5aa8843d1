"""The provider protocol: a provider turns a completion request into a stream of events."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from backend.drafting.model import ChatMessage, DraftContext, DraftOptions


@dataclass(frozen=True)
class CompletionRequest:
    """What a provider receives. `context` lets the offline drafter work without a prompt."""

    messages: tuple[ChatMessage, ...]
    context: DraftContext
    options: DraftOptions
    max_tokens: int = 800
    temperature: float = 0.4


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class TextDelta:
    """A piece of draft text, in order."""

    text: str


@dataclass(frozen=True)
class Finished:
    """The stream ended properly: a finish reason arrived."""

    finish_reason: str
    model: str
    usage: Usage | None = None


StreamEvent = TextDelta | Finished


class ProviderError(Exception):
    """A provider call failed. `retryable` says whether trying again may help."""

    def __init__(self, provider: str, reason: str, *, retryable: bool,
                 retry_after: float | None = None, status: int | None = None):
        super().__init__(f"{provider}: {reason}")
        self.provider = provider
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status


class ProviderSaturated(ProviderError):
    """Our own upstream shaping found no slot in time: the provider is healthy, just full.

    Retryable (another provider may have room) but no verdict for its circuit breaker.
    """

    def __init__(self, provider: str, reason: str = "provider saturated", *,
                 retry_after: float | None = None):
        super().__init__(provider, reason, retryable=True, retry_after=retry_after)


class LLMProvider(Protocol):
    """One configured upstream (or the offline drafter)."""

    name: str
    model: str
    region: str

    def stream(self, request: CompletionRequest, timeout: float) -> Iterator[StreamEvent]:
        """Yield TextDelta events then exactly one Finished; raise ProviderError on failure."""
        ...


DEFAULT_COALESCE_MS = 50
OPENAI_BASE_URL = "https://api.openai.com/v1"  # where kind "openai" goes without a base_url


@dataclass(frozen=True)
class ProviderConfig:
    """One provider entry of the chain, from configuration."""

    name: str                       # unique label, e.g. "openai", "azure-eu", "local"
    kind: str                       # "openai" | "azure" | "compatible" | "offline" | "echo"
    model: str = ""
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)  # a secret: never in logs or reprs
    api_version: str | None = None  # Azure only
    deployment: str | None = None   # Azure only
    region: str = "global"
    timeout_s: float = 30.0
    # Outbound proxy URL for this provider's calls (config: HTTPS_PROXY and friends, or the
    # entry's own "proxy"); None connects directly.
    proxy: str | None = field(default=None, repr=False)  # may carry credentials: as the key
    # While tokens arrive closer together than this many ms, read the stream at most once per
    # that time, so they cost the worker's thread one wake-up (openai_provider.ReadPace; 0:
    # every chunk). 50 ms is 20 updates a second, smoother than reading speed needs.
    coalesce_ms: int = DEFAULT_COALESCE_MS
    extra: dict[str, str] = field(default_factory=dict)
    # Upstream shaping (issue 7; providers/llm/shaping.py): None = no cap of that kind.
    rpm: int | None = None              # calls started in any 60 s
    tpm: int | None = None              # tokens (prompt estimate + max_tokens) in any 60 s
    max_concurrency: int | None = None  # calls in flight at once
    max_queue: int | None = None        # callers waiting per worker (default 4 x concurrency)
    queue_timeout_s: float = 10.0       # longest wait for a slot before failing over

    @property
    def shaped(self) -> bool:
        """True when any upstream cap is configured for this provider."""
        return any(v is not None for v in (self.rpm, self.tpm, self.max_concurrency))
