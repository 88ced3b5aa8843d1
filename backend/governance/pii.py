"""Personal-data redaction before text leaves for an LLM provider, and restoration in its draft.

A `Redactor` is one request's session: every field of a draft request goes through the same
instance, so a value gets the same placeholder (`[EMAIL_1]`, `[PERSON_2]`, `[CUSTOMER_ID_1]`)
wherever it appears. `restore` puts the originals back into the provider's answer.

Nothing here may leak a value: reprs, exceptions and counts carry types and numbers only. The
mapping (placeholder -> original) is the one exception, and it lives only as long as the request.
"""
from __future__ import annotations

import re
import warnings
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from phonenumbers import SUPPORTED_REGIONS

from backend.drafting.model import Address, DraftContext
from backend.governance import pii_detectors as det
from backend.governance.pii_detectors import BUILTIN_TYPES, Hit
from backend.governance.pii_patterns import UnsafePattern, match_bounds

ACTIONS = ("redact", "block", "allow")
MAX_PATTERN_CHARS = 500
MAX_WORD_CHARS = 200
MAX_WORDS = 5_000  # per list: each word is an alternative in the shared regex

_LABEL_RE = re.compile(r"[A-Z][A-Z0-9_]{0,31}")
# Canonical placeholders, as this module writes them: left untouched when found in input.
_PLACEHOLDER_RE = re.compile(r"\[[A-Z][A-Z0-9_]*_\d+\]")
# What an LLM may make of one: "[ email_1 ]", "[Email 1]", markdown-escaped "\[EMAIL\_1\]".
_LOOSE_PLACEHOLDER_RE = re.compile(r"\\?\[([^\[\]\n]{1,64})\]")
_LOOSE_SEPARATORS_RE = re.compile(r"[\s_\-]+")
# Ties between equally long overlapping hits: the more specific type wins. Tenant labels rank
# first, since the admin wrote them for exactly this data.
_RANK = {det.EMAIL: 1, det.IBAN: 2, det.CARD: 3, det.SSN: 4, det.IP: 5, det.PHONE: 6,
         det.PERSON: 8}


class PolicyError(ValueError):
    """A PII policy value is invalid; the message names the field."""


class PiiBlocked(Exception):
    """The text holds data the tenant's policy refuses to send; it names types, never values."""

    def __init__(self, types: Iterable[str]):
        self.types: tuple[str, ...] = tuple(sorted(set(types)))
        super().__init__(f"policy blocks sending personal data of type {', '.join(self.types)}")

    def __repr__(self) -> str:
        return f"PiiBlocked(types={list(self.types)!r})"


@dataclass(frozen=True, slots=True)
class Span:
    """Where a value sits in the original text; `placeholder` is None unless it is redacted."""

    type: str
    start: int
    end: int
    placeholder: str | None
    action: str = "redact"


@dataclass(frozen=True, repr=False)
class PiiPolicy:
    """A tenant's PII rules: per-type actions, its own regexes and word lists, the phone region."""

    actions: Mapping[str, str] = field(default_factory=dict)
    custom_patterns: Mapping[str, str] = field(default_factory=dict)
    word_lists: Mapping[str, Sequence[str]] = field(default_factory=dict)
    default_region: str = "US"
    _regexes: tuple[tuple[str, re.Pattern[str]], ...] = field(
        init=False, default=(), compare=False)
    _word_regex: re.Pattern[str] | None = field(init=False, default=None, compare=False)
    _word_labels: Mapping[str, str] = field(init=False, default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        patterns = _mapping_of(self.custom_patterns, "custom_patterns")
        words = _mapping_of(self.word_lists, "word_lists")
        regexes = tuple((_label(k, "custom_patterns"), compile_tenant_pattern(k, v))
                        for k, v in patterns.items())
        word_labels: dict[str, str] = {}  # folded word -> label; the first list naming it wins
        for label, items in words.items():
            _label(label, "word_lists")
            if (isinstance(items, str) or not isinstance(items, Sequence)
                    or len(items) > MAX_WORDS or not all(
                        isinstance(w, str) and w.strip() and len(w) <= MAX_WORD_CHARS
                        for w in items)):
                raise PolicyError(f"word_lists[{label!r}] must be a list of at most {MAX_WORDS} "
                                  f"non-empty words of at most {MAX_WORD_CHARS} characters")
            for word in items:
                word_labels.setdefault(" ".join(word.split()).casefold(), label)
        known = set(BUILTIN_TYPES) | set(patterns) | set(words)
        actions = _mapping_of(self.actions, "actions")
        for key, action in actions.items():
            if key not in known:
                raise PolicyError(f"actions[{key!r}]: unknown type (expected one of "
                                  f"{', '.join(sorted(known))})")
            if action not in ACTIONS:
                raise PolicyError(f"actions[{key!r}]: unknown action {action!r} "
                                  f"(expected {', '.join(ACTIONS)})")
        region = self.default_region
        if not isinstance(region, str) or region.upper() not in SUPPORTED_REGIONS:
            raise PolicyError(f"default_region: {region!r} is not a known region code like "
                              "'US', 'GB' or 'DE'")
        # Frozen for callers; set once here. The copies stop later edits of the caller's dicts
        # from bypassing validation.
        object.__setattr__(self, "actions", dict(actions))
        object.__setattr__(self, "custom_patterns", dict(patterns))
        object.__setattr__(self, "word_lists", {k: tuple(v) for k, v in words.items()})
        object.__setattr__(self, "default_region", region.upper())
        object.__setattr__(self, "_regexes", regexes)
        # All lists share one regex: one scan of the text however many lists a tenant has.
        object.__setattr__(self, "_word_regex", det.literal_regex(
            (w for items in words.values() for w in items), ignore_case=True))
        object.__setattr__(self, "_word_labels", word_labels)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> PiiPolicy:
        """Build from stored/submitted JSON; raise PolicyError naming the bad field."""
        if data is not None and not isinstance(data, Mapping):
            raise PolicyError("pii must be an object")
        data = dict(data or {})
        unknown = set(data) - {"actions", "custom_patterns", "word_lists", "default_region"}
        if unknown:
            raise PolicyError(f"unknown pii field(s): {', '.join(sorted(unknown))}")
        return cls(actions=data.get("actions") or {},
                   custom_patterns=data.get("custom_patterns") or {},
                   word_lists=data.get("word_lists") or {},
                   default_region=data.get("default_region", "US"))

    def find_tenant_values(self, text: str) -> Iterator[Hit]:
        """Hits of the tenant's own regexes and word lists in `text` (overlaps unresolved)."""
        for label, regex in self._regexes:
            yield from det.find_pattern(text, regex, label)
        if self._word_regex is not None:
            yield from det.find_literals(text, self._word_regex, self._word_labels, fold=True)

    def action_for(self, pii_type: str) -> str:
        """The action for a type: "redact" unless the tenant chose "block" or "allow"."""
        return self.actions.get(pii_type, "redact")

    def __repr__(self) -> str:
        # Word lists and patterns may name clients or projects: show their labels only.
        return (f"PiiPolicy(actions={dict(self.actions)!r}, "
                f"custom_patterns={sorted(self.custom_patterns)!r}, "
                f"word_lists={sorted(self.word_lists)!r}, default_region={self.default_region!r})")


def _mapping_of(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise PolicyError(f"{name} must be an object keyed by name")
    return value


def _label(label: str, name: str) -> str:
    if not _LABEL_RE.fullmatch(label):
        raise PolicyError(f"{name}[{label!r}]: a label is 1-32 of A-Z, 0-9 and _, starting with a "
                          "letter")
    if label in BUILTIN_TYPES:
        raise PolicyError(f"{name}[{label!r}]: {label} is a built-in type")
    return label


def compile_tenant_pattern(label: str, pattern: Any) -> re.Pattern[str]:
    """Compile an admin's regex, refusing any that could stall a worker; PolicyError if refused.

    The guard is static (see `pii_patterns`): bounded repetition only ("\\d{1,12}", not "\\d+"),
    no nested or ambiguous repetition, no backreferences, capped match width and paths.
    """
    where = f"custom_patterns[{label!r}]"
    if not isinstance(pattern, str) or not pattern:
        raise PolicyError(f"{where} must be a non-empty string")
    shown = pattern if len(pattern) <= 60 else pattern[:57] + "..."
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PolicyError(f"{where}: pattern is longer than {MAX_PATTERN_CHARS} characters")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. FutureWarning for "[[": refuse, don't log
            regex = re.compile(pattern)
    except (re.error, Warning) as exc:
        raise PolicyError(f"{where}: {shown!r} is not a valid regular expression ({exc})") from None
    if regex.flags & re.VERBOSE:
        raise PolicyError(f"{where}: {shown!r} uses verbose mode, which is not supported")
    try:
        match_bounds(pattern, regex.flags & (re.IGNORECASE | re.DOTALL | re.ASCII))
    except UnsafePattern as exc:
        raise PolicyError(f"{where}: {shown!r} is refused: {exc}") from None
    if regex.fullmatch(""):
        raise PolicyError(f"{where}: {shown!r} matches empty text")
    return regex


class _Book:
    """Placeholder numbering for one session; copied when only previewing."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, str], str] = {}
        self.mapping: dict[str, str] = {}
        self.counters: Counter[str] = Counter()
        self.reserved: set[str] = set()  # placeholders already in the input that we didn't issue

    def copy(self) -> _Book:
        book = _Book()
        book.by_key, book.mapping = dict(self.by_key), dict(self.mapping)
        book.counters, book.reserved = Counter(self.counters), set(self.reserved)
        return book

    def placeholder(self, hit: Hit, original: str) -> str:
        found = self.by_key.get((hit.type, hit.key))
        if found is not None:
            return found
        n = self.counters[hit.type]
        while True:
            n += 1
            placeholder = f"[{hit.type}_{n}]"
            if placeholder not in self.reserved:
                break
        self.counters[hit.type] = n
        self.by_key[(hit.type, hit.key)] = placeholder
        self.mapping[placeholder] = original
        return placeholder


class Redactor:
    """One request's redaction session: a value gets the same placeholder in every field."""

    def __init__(self, policy: PiiPolicy | None = None, known_names: Iterable[str] = ()):
        self._policy = policy if policy is not None else PiiPolicy()
        self._names: set[str] = set()
        self._name_regex: re.Pattern[str] | None = None
        self._book = _Book()
        self._phone_cache: dict[str, list[tuple[int, int, str]]] = {}
        self.add_names(known_names)

    def add_names(self, names: Iterable[str]) -> None:
        """Register more people's names (display names, signature lines) for this session."""
        variants = det.name_variants(n for n in names if isinstance(n, str))
        if not variants <= self._names:
            self._names |= variants
            self._name_regex = det.literal_regex(self._names, ignore_case=False)

    def redact(self, text: str) -> str:
        """Replace personal data in `text` with placeholders; raise PiiBlocked if policy says so."""
        return self.redact_many([text])[0]

    def redact_many(self, texts: Sequence[str]) -> list[str]:
        """Redact several fields in order; if any is blocked, raise before numbering anything."""
        found = [self._scan(t) for t in texts]
        blocked = {h.type for hits, _ in found for h in hits
                   if self._policy.action_for(h.type) == "block"}
        if blocked:
            raise PiiBlocked(blocked)
        return [self._apply(t, hits, protected, self._book)
                for t, (hits, protected) in zip(texts, found)]

    def spans(self, text: str) -> list[Span]:
        """Where values are in `text` and what they would become, without changing the session.

        For the admin's `replywise redact` preview: callers slice the text they passed in to
        show a value; no other API hands values out.
        """
        hits, protected = self._scan(text)
        book = self._book.copy()
        book.reserved.update(p for p in protected if p not in book.mapping)
        out = []
        for hit in hits:
            action = self._policy.action_for(hit.type)
            placeholder = (book.placeholder(hit, text[hit.start:hit.end])
                           if action == "redact" else None)
            out.append(Span(hit.type, hit.start, hit.end, placeholder, action))
        return out

    @property
    def mapping(self) -> dict[str, str]:
        """A copy of placeholder -> original for `restore`; holds values, so never log it."""
        return dict(self._book.mapping)

    def counts(self) -> dict[str, int]:
        """Distinct redacted values per type, for audit and analytics (no values)."""
        return dict(Counter(kind for kind, _ in self._book.by_key))

    def restore(self, text: str) -> str:
        """`restore(text, self.mapping)`."""
        return restore(text, self._book.mapping)

    def __repr__(self) -> str:
        return (f"<Redactor placeholders={len(self._book.mapping)} names={len(self._names)} "
                f"region={self._policy.default_region}>")

    def _scan(self, text: str) -> tuple[list[Hit], set[str]]:
        """Resolved hits (sorted, non-overlapping) and the placeholders already in the text."""
        if not text:
            return [], set()
        present = list(_PLACEHOLDER_RE.finditer(text)) if "[" in text else []
        policy = self._policy
        candidates: list[Iterable[Hit]] = [
            det.find_emails(text), det.find_ibans(text), det.find_cards(text),
            det.find_ssns(text), det.find_ips(text),
            det.find_phones(text, policy.default_region, self._phone_cache),
            policy.find_tenant_values(text)]
        if self._name_regex is not None:
            candidates.append(det.find_literals(text, self._name_regex, det.PERSON, fold=False))
        hits = [h for group in candidates for h in group]
        return _resolve(hits, [m.span() for m in present]), {m.group() for m in present}

    def _apply(self, text: str, hits: list[Hit], protected: set[str],
               book: _Book) -> str:
        book.reserved.update(p for p in protected if p not in book.mapping)
        parts, pos = [], 0
        for hit in hits:
            if self._policy.action_for(hit.type) != "redact":
                continue
            parts.append(text[pos:hit.start])
            parts.append(book.placeholder(hit, text[hit.start:hit.end]))
            pos = hit.end
        parts.append(text[pos:])
        return "".join(parts)


def _resolve(hits: list[Hit], protected: list[tuple[int, int]]) -> list[Hit]:
    """Keep the longest (then most specific) of overlapping hits; placeholders beat them all."""
    starts: list[int] = []
    ends: list[int] = []
    for start, end in sorted(protected):
        starts.append(start)
        ends.append(end)
    kept = []
    for hit in sorted(hits, key=lambda h: (h.start - h.end, _RANK.get(h.type, 0), h.start)):
        i = bisect_right(starts, hit.start)
        if (i > 0 and ends[i - 1] > hit.start) or (i < len(starts) and starts[i] < hit.end):
            continue
        starts.insert(i, hit.start)
        ends.insert(i, hit.end)
        kept.append(hit)
    return sorted(kept, key=lambda h: h.start)


def restore(text: str, mapping: Mapping[str, str]) -> str:
    """Put originals back into a draft; tolerates "[ email_1 ]" variants, keeps unknown ones."""
    if not mapping or "[" not in text:
        return text
    lookup = {_loose_key(placeholder[1:-1]): original for placeholder, original in mapping.items()}

    def put_back(m: re.Match[str]) -> str:
        return lookup.get(_loose_key(m.group(1)), m.group())

    # One pass, so an original that itself looks like a placeholder is never expanded again.
    return _LOOSE_PLACEHOLDER_RE.sub(put_back, text)


def _loose_key(inner: str) -> str:
    return _LOOSE_SEPARATORS_RE.sub("_", inner.replace("\\", "").strip()).upper()


def redact_context(ctx: DraftContext, redactor: Redactor) -> DraftContext:
    """Redact every free-text field of a draft context through one session (all or PiiBlocked).

    The user's own name is redacted too: it is still personal data, and `restore` writes it back
    into the sign-off. The sender's and user's names are registered with the session first, so
    a lone "Jane" elsewhere is caught as well.
    """
    sender = ctx.sender
    redactor.add_names([ctx.user_name, sender.name if sender else ""])
    extra_keys = list(ctx.extra)
    fields = [sender.name if sender else "", sender.email if sender else "", ctx.user_name,
              ctx.subject, ctx.latest, ctx.quoted_history, ctx.signature, *ctx.earlier,
              *(ctx.extra[k] for k in extra_keys)]
    (name, email, user_name, subject, latest, quoted, signature,
     *rest) = redactor.redact_many(fields)
    earlier, extra = rest[:len(ctx.earlier)], rest[len(ctx.earlier):]
    return replace(ctx, subject=subject, sender=Address(name, email) if sender else None,
                   latest=latest, quoted_history=quoted, signature=signature,
                   earlier=tuple(earlier), user_name=user_name, extra=dict(zip(extra_keys, extra)))
