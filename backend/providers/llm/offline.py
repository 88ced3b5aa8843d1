"""The built-in offline drafter as a provider: no network, deterministic, always available."""
from __future__ import annotations

import re
from collections.abc import Iterator

from backend.drafting.offline import offline_draft
from backend.drafting.tokens import estimate_tokens
from backend.providers.llm.base import CompletionRequest, Finished, StreamEvent, TextDelta, Usage

_WORDS = re.compile(r"\S+\s*|\s+")


class OfflineProvider:
    """Streams the offline draft word by word, like a real provider would."""

    name = "offline"
    model = "offline"
    region = "local"
    is_local = True  # provider policy: nothing leaves the machine

    def stream(self, request: CompletionRequest, timeout: float) -> Iterator[StreamEvent]:
        """Yield the offline draft in word-sized deltas, then Finished."""
        text = offline_draft(request.context, request.options)
        for word in _WORDS.findall(text):
            yield TextDelta(word)
        # No model reads a prompt here, so only the generated text counts.
        yield Finished("stop", self.model, Usage(completion_tokens=estimate_tokens(text)))
