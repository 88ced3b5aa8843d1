"""Turning a provider's raw deltas into what the user may see, as they arrive.

Two things can't be done delta by delta: a placeholder like "[EMAIL_1]" may be split across
deltas ("[EMA" + "IL_1]"), and a preamble ("Here is a draft:") is only recognisable once its line
is complete. So a little text is held back until it is safe; the final event always carries the
authoritative, fully cleaned draft.
"""
from __future__ import annotations

from backend.drafting.output import clean_draft
from backend.governance.pii import restore

# A placeholder is short; an unclosed "[" further back than this is ordinary text.
_MAX_PLACEHOLDER = 40
# The head is held until a paragraph break or this many characters, then preamble-stripped.
_HEAD_CHARS = 300


class VisibleStream:
    """Feeds raw provider text in, returns restored and preamble-free text to show."""

    def __init__(self, mapping: dict[str, str]):
        self._mapping = mapping
        self._head: str | None = ""
        self._tail = ""

    def feed(self, delta: str) -> str:
        """Accept a delta; return the text that can be shown now (may be empty)."""
        if self._head is not None:
            self._head += delta
            if "\n\n" not in self._head and len(self._head) < _HEAD_CHARS:
                return ""
            head, self._head = self._head, None
            stripped = head.rstrip()
            cleaned = clean_draft(stripped)
            delta = cleaned + head[len(stripped):] if cleaned else ""
        return self._release(delta)

    def finish(self) -> str:
        """Return whatever is still held back."""
        if self._head is not None:
            head, self._head = self._head, None
            return self._release(clean_draft(head)) + self._flush()
        return self._flush()

    def _release(self, delta: str) -> str:
        text = self._tail + delta
        cut = text.rfind("[")
        if cut != -1 and "]" not in text[cut:] and len(text) - cut < _MAX_PLACEHOLDER:
            self._tail = text[cut:]
            text = text[:cut]
        else:
            self._tail = ""
        return restore(text, self._mapping) if text else ""

    def _flush(self) -> str:
        text, self._tail = self._tail, ""
        return restore(text, self._mapping) if text else ""
