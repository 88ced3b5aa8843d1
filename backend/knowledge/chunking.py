"""Pages to passages: by page first, then ~300-token windows with overlap, cut at sentences.

A passage never spans two pages, so every one can be cited with its page number. Windows
overlap by a sentence or so, so a fact that straddles a cut is still whole in one passage.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from backend.drafting.tokens import estimate_tokens

TARGET_TOKENS = 300
MAX_TOKENS = 400
OVERLAP_TOKENS = 40
# Sentence ends, list items and line breaks: where a window may end.
_BREAK = re.compile(r"(?<=[.!?;:])\s+|\n+")


@dataclass(frozen=True)
class Chunk:
    """One passage: its page (1-based; None for formats without pages) and its text."""

    page: int | None
    text: str


def chunk_pages(pages: tuple[str, ...], *, paged: bool = True) -> list[Chunk]:
    """Split every page into passages of about TARGET_TOKENS, in order."""
    chunks: list[Chunk] = []
    for number, page in enumerate(pages, start=1):
        for text in split_text(page):
            chunks.append(Chunk(number if paged else None, text))
    return chunks


def split_text(text: str) -> list[str]:
    """`text` as overlapping windows of whole sentences (a sentence too long is cut at words)."""
    text = text.strip()
    if not text:
        return []
    if estimate_tokens(text) <= MAX_TOKENS:
        return [text]
    pieces = _pieces(text)
    windows: list[str] = []
    start = 0
    while start < len(pieces):
        size, end = 0, start
        while end < len(pieces) and (size < TARGET_TOKENS or end == start):
            size += pieces[end][1]
            end += 1
        windows.append(" ".join(p for p, _ in pieces[start:end]))
        if end >= len(pieces):
            break
        # Step back over the last pieces of this window for the overlap, but always advance.
        back, kept = end, 0
        while back - 1 > start and kept + pieces[back - 1][1] <= OVERLAP_TOKENS:
            back -= 1
            kept += pieces[back][1]
        start = back
    return windows


def _pieces(text: str) -> list[tuple[str, int]]:
    """Sentences (or word runs, for a sentence longer than MAX_TOKENS) with token estimates."""
    out: list[tuple[str, int]] = []
    for sentence in _BREAK.split(text):
        sentence = sentence.strip()
        if not sentence:
            continue
        tokens = estimate_tokens(sentence)
        if tokens <= MAX_TOKENS // 2:
            out.append((sentence, tokens))
            continue
        words = sentence.split(" ")
        step = max(1, len(words) * (MAX_TOKENS // 4) // tokens)
        for i in range(0, len(words), step):
            part = " ".join(words[i:i + step])
            out.append((part, estimate_tokens(part)))
    return out
