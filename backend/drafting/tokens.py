"""Token estimates, and cutting email context down to a prompt's token budget.

Why a heuristic and not a real tokenizer: the exact count depends on the provider's model (and
tiktoken would download vocabularies at run time, which air-gapped installs cannot do), while the
budget only has to keep prompts comfortably inside the context window and the cost predictable.
Modern BPE vocabularies spend about one token per 4 characters of Latin-script text, about one per
2 characters of Greek, Cyrillic, Hebrew or Arabic, and about one per CJK, kana, hangul, Indic or
Thai character. The estimate errs high (accented Latin letters count half a token, typographic
quotes a whole one, whitespace runs a quarter each), which is the safe side for a budget.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

MARKER = "[…]"
# Below this many tokens a fragment of an older message is noise rather than context.
MIN_USEFUL_TOKENS = 48

_HIGH_BYTES = bytes(range(0x80, 0x100))
# How far a cut may move to land on whitespace instead of splitting a word.
_SNAP = 40


def estimate_tokens(text: str) -> int:
    """Estimate how many tokens `text` costs: ~4 chars each for Latin, ~1 per CJK character."""
    if not text:
        return 0
    if text.isascii():  # the common case, and a C-speed check
        return (len(text) + 3) // 4
    # UTF-8 spends 2 bytes on U+0080..U+07FF (accented Latin, Greek, Cyrillic, Hebrew, Arabic)
    # and 3 on U+0800..U+FFFF (Indic, Thai, CJK, kana, hangul, typographic quotes and dashes),
    # so two C-speed byte counts say how many of each there are, without a Python-level loop
    # or a regex scan (a 50 KB thread must cost well under a millisecond).
    encoded = text.encode("utf-8", "surrogatepass")
    ascii_count = len(encoded.translate(None, _HIGH_BYTES))
    wide = len(text) - ascii_count
    three_byte = max(0, len(encoded) - ascii_count - 2 * wide)  # 4-byte emoji count ~1.5 here
    two_byte = max(0, wide - three_byte)
    return (ascii_count + 2 * two_byte + 4 * three_byte + 3) // 4


def _head(text: str, chars: int) -> str:
    """The first `chars` characters, moved back to a word boundary when one is near."""
    if chars >= len(text):
        return text
    cut = text.rfind(" ", max(0, chars - _SNAP), chars + 1)
    cut_nl = text.rfind("\n", max(0, chars - _SNAP), chars + 1)
    cut = max(cut, cut_nl)
    return text[: cut if cut > 0 else chars].rstrip()


def _tail(text: str, chars: int) -> str:
    """The last `chars` characters, moved forward to a word boundary when one is near."""
    if chars >= len(text):
        return text
    if chars <= 0:
        return ""
    start = len(text) - chars
    window = text[start : start + _SNAP]
    offsets = [i for i in (window.find(" "), window.find("\n")) if i >= 0]
    if offsets:
        start += min(offsets) + 1
    return text[start:].lstrip()


def _shrink(text: str, max_tokens: int, build: Callable[[int], str]) -> str:
    """Find the longest `build(keep_chars)` that fits, starting from the text's own density."""
    marker_cost = estimate_tokens(MARKER) + 1
    if max_tokens <= marker_cost:
        return ""
    keep = int((max_tokens - marker_cost) * len(text) / max(1, estimate_tokens(text)))
    # Mixed scripts make the density uneven, so correct a few times; each pass only shrinks.
    for _ in range(4):
        out = build(keep)
        cost = estimate_tokens(out)
        if cost <= max_tokens:
            return out
        keep = int(keep * max_tokens / cost) - 8
        if keep <= 0:
            break
    # No character costs more than one token, so this always fits.
    return build(max(0, max_tokens - marker_cost - 1))


def truncate_middle(text: str, max_tokens: int) -> str:
    """Keep the beginning and the end of `text` within `max_tokens`, cutting the middle at "[…]"."""
    if estimate_tokens(text) <= max_tokens:
        return text

    def build(keep: int) -> str:
        # The opening states the matter, the end usually holds the actual ask: keep both.
        head = _head(text, keep - keep // 2)
        tail = _tail(text, keep // 2)
        return f"{head}\n{MARKER}\n{tail}" if tail else f"{head}\n{MARKER}"

    return _shrink(text, max_tokens, build)


def truncate_end(text: str, max_tokens: int) -> str:
    """Keep the beginning of `text` within `max_tokens`, marking the cut with "[…]"."""
    if estimate_tokens(text) <= max_tokens:
        return text
    return _shrink(text, max_tokens, lambda keep: f"{_head(text, keep)}\n{MARKER}")


@dataclass(frozen=True)
class ContextParts:
    """The budgetable text of a draft request."""

    latest: str                          # the message being answered
    earlier: Sequence[str] = ()          # earlier thread messages, oldest first
    quoted_history: str = ""             # what the latest message quotes below itself


@dataclass(frozen=True)
class FittedContext:
    """What survived the budget, with a record of what was cut."""

    latest: str
    earlier: tuple[str, ...]             # the newest earlier messages that fit, still oldest first
    quoted_history: str
    tokens: int                          # estimated cost, including per-part overheads
    latest_truncated: bool = False
    earlier_dropped: int = 0             # whole messages left out (a truncated one is kept)
    earlier_truncated: bool = False
    history_truncated: bool = False      # cut short or left out entirely


def fit_to_budget(parts: ContextParts, budget: int, *, part_overhead: int = 0) -> FittedContext:
    """Cut `parts` to `budget` tokens, newest first: latest, then earlier messages, then history.

    The latest message is always kept (middle-truncated if it alone is too long); earlier
    messages are taken newest-first while they fit, the first one that doesn't fit is
    middle-truncated into what is left (if that is worth it) and everything older is dropped;
    the quoted history gets whatever remains, keeping its beginning (the newest quoted mail).
    `part_overhead` is charged once per kept part, for the caller's delimiters around it.
    """
    if budget < 0:
        raise ValueError("budget must not be negative")
    latest = parts.latest
    latest_truncated = False
    if estimate_tokens(latest) + part_overhead > budget:
        latest = truncate_middle(latest, budget - part_overhead)
        latest_truncated = True
    spent = estimate_tokens(latest) + (part_overhead if latest else 0)

    kept: list[str] = []
    candidates = [m for m in parts.earlier if m.strip()]
    earlier_truncated = False
    for message in reversed(candidates):
        cost = estimate_tokens(message) + part_overhead
        if spent + cost <= budget:
            kept.append(message)
            spent += cost
            continue
        room = budget - spent - part_overhead
        if room >= MIN_USEFUL_TOKENS:
            fragment = truncate_middle(message, room)
            if fragment:
                kept.append(fragment)
                spent += estimate_tokens(fragment) + part_overhead
                earlier_truncated = True
        break
    kept.reverse()

    history = parts.quoted_history
    history_truncated = False
    if history.strip():
        room = budget - spent - part_overhead
        if estimate_tokens(history) <= room:
            spent += estimate_tokens(history) + part_overhead
        else:
            history = truncate_end(history, room) if room >= MIN_USEFUL_TOKENS else ""
            history_truncated = True
            if history:
                spent += estimate_tokens(history) + part_overhead
    else:
        history = ""

    return FittedContext(
        latest=latest,
        earlier=tuple(kept),
        quoted_history=history,
        tokens=spent,
        latest_truncated=latest_truncated,
        earlier_dropped=len(candidates) - len(kept),
        earlier_truncated=earlier_truncated,
        history_truncated=history_truncated,
    )
