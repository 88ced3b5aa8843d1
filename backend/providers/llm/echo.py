"""A zero-latency, deterministic in-process provider for benchmarks and tests (kind "echo")."""
from __future__ import annotations

from collections.abc import Iterator

from backend.drafting.tokens import estimate_tokens
from backend.providers.llm.base import (
    CompletionRequest,
    Finished,
    ProviderConfig,
    StreamEvent,
    TextDelta,
    Usage,
)


class EchoProvider:
    """Streams "Thanks for your message about <subject>." word by word, with estimated usage."""

    def __init__(self, config: ProviderConfig | None = None) -> None:
        config = config or ProviderConfig(name="echo", kind="echo")
        self.config = config
        self.name = config.name
        self.model = config.model or "echo"
        self.region = config.region
        self.timeout_s = config.timeout_s

    def reply_for(self, request: CompletionRequest) -> str:
        """The exact text `stream` will produce for this request."""
        subject = " ".join(request.context.subject.split()) or "your email"
        return f"Thanks for your message about {subject}. I will get back to you shortly."

    def stream(self, request: CompletionRequest, timeout: float) -> Iterator[StreamEvent]:
        """Yield the reply in word deltas, then Finished("stop") with estimated usage."""
        text = self.reply_for(request)
        words = text.split(" ")
        for index, word in enumerate(words):
            yield TextDelta(word if index == len(words) - 1 else word + " ")
        # The same heuristic the prompt budget uses, so benchmark accounting matches the pipeline.
        usage = Usage(prompt_tokens=sum(estimate_tokens(m.content) for m in request.messages),
                      completion_tokens=estimate_tokens(text))
        yield Finished(finish_reason="stop", model=self.model, usage=usage)

    def close(self) -> None:
        """Nothing to release; present so every provider can be closed alike."""

    def __repr__(self) -> str:
        return f"EchoProvider(name={self.name!r})"
