"""Finders for personal data in text: each yields candidate hits that passed a cheap validity check.

Pure functions over strings; `pii.py` resolves overlaps, applies the tenant's policy and numbers
placeholders. Every regex here is written so that a scan stays linear on hostile input (mail
bodies come from strangers): finders anchor on a rare character or check the left boundary after
the first character, which keeps `re`'s fast first-character scan available.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from phonenumbers import (Leniency, PhoneNumber, PhoneNumberFormat, PhoneNumberMatcher,
                          format_number)

EMAIL = "EMAIL"
PHONE = "PHONE"
CARD = "CARD"
IBAN = "IBAN"
SSN = "SSN"
IP = "IP"
PERSON = "PERSON"
BUILTIN_TYPES = (EMAIL, PHONE, CARD, IBAN, SSN, IP, PERSON)


@dataclass(frozen=True, slots=True)
class Hit:
    """One detected value: where it is, its type and a normalised key deciding sameness."""

    start: int
    end: int
    type: str
    key: str = field(repr=False)  # derived from the value: never printed


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


# --- email ---------------------------------------------------------------------------------

_LOCAL_CHARS = frozenset(".%+-_")
# Labels may hold Unicode letters (IDN written natively); the TLD is letters only.
_DOMAIN_RE = re.compile(r"(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}(?![\w-])")


def find_emails(text: str) -> Iterator[Hit]:
    """Addresses found by walking out from each "@": linear even on long runs of letters."""
    at = text.find("@")
    while at != -1:
        start = at
        while start > 0 and (text[start - 1].isalnum() or text[start - 1] in _LOCAL_CHARS):
            start -= 1
        while start < at and text[start] == ".":  # "...jane@x.org": the dots are prose
            start += 1
        domain = _DOMAIN_RE.match(text, at + 1) if start < at else None
        if domain:
            yield Hit(start, domain.end(), EMAIL, text[start:domain.end()].lower())
            at = text.find("@", domain.end())
        else:
            at = text.find("@", at + 1)


# --- phone ---------------------------------------------------------------------------------

# Cheap pre-filter: a run of digits and phone punctuation. Only windows around runs with enough
# digits reach phonenumbers, which is ~100x slower than a regex over the whole text.
_PHONE_RUN_RE = re.compile(r"[+(\d][\d \t\u00a0().\-/]{5,}\d")
_MIN_PHONE_DIGITS = 7
# Dates and IPv4 addresses are the commonest long digit runs in mail and never phone numbers:
# skip the expensive call for them.
_NOT_PHONE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{1,2}[./-][0-9]{1,2}[./-][0-9]{2,4}"
                           r"|[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
# phonenumbers looks at one character either side of a number (a letter, "%" or a currency sign
# disqualifies it), three after it for a time stamp (":30") and further for an extension word.
_EXTENSION_RE = re.compile(r"[ \t,;]*(?:e?xt|extension|x|#|~|int|anexo|доб)", re.IGNORECASE)
_EXTENSION_CONTEXT = 16
_SPACES = str.maketrans({c: " " for c in "\t\n\r\f\v\u00a0\u2007\u202f"})


def find_phones(text: str, region: str,
                cache: dict[str, list[tuple[int, int, str]]] | None = None) -> Iterator[Hit]:
    """Numbers valid for `region` (or "+"/international-prefixed ones), keyed by E.164.

    `cache` remembers parsed windows: threads repeat signatures, and one session's fields
    repeat each other. Keep it no longer than the session: it holds numbers.
    """
    cache = {} if cache is None else cache
    windows: list[list[int]] = []
    for run in _PHONE_RUN_RE.finditer(text):
        if (sum(ch.isdigit() for ch in run.group()) < _MIN_PHONE_DIGITS
                or _NOT_PHONE_RE.fullmatch(run.group())):
            continue
        end = run.end()
        after = (_EXTENSION_CONTEXT if _EXTENSION_RE.match(text, end)
                 else 3 if text[end:end + 1] == ":" else 1)
        lo, hi = max(0, run.start() - 1), min(len(text), end + after)
        if windows and lo <= windows[-1][1]:
            windows[-1][1] = hi
        else:
            windows.append([lo, hi])
    for lo, hi in windows:
        # Any whitespace reads the same to phonenumbers; one spelling means more cache hits.
        window = text[lo:hi].translate(_SPACES)
        if window not in cache:
            cache[window] = [(*_balanced(window, m.start, m.end), _phone_key(m.number)) for m in
                             PhoneNumberMatcher(window, region, leniency=Leniency.VALID)]
        for start, end, key in cache[window]:
            yield Hit(lo + start, lo + end, PHONE, key)


def _balanced(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop an unpaired bracket phonenumbers keeps: "(+44 20 7946 0958, ..." is prose's "("."""
    if text[start] == "(" and ")" not in text[start:end]:
        start += 1
    if text[end - 1] == ")" and "(" not in text[start:end]:
        end -= 1
    return start, end


def _phone_key(number: PhoneNumber) -> str:
    key = format_number(number, PhoneNumberFormat.E164)
    return key + ";ext=" + number.extension if number.extension else key


# --- payment card --------------------------------------------------------------------------

# 13-19 digits, single spaces or dashes between; must start and end a digit run (not after "+",
# which marks a phone number).
_CARD_RE = re.compile(
    r"[0-9](?<![0-9+][0-9])(?<![0-9][ -][0-9])(?:[ -]?[0-9]){12,18}(?![ -]?[0-9])")


def luhn_ok(digits: str) -> bool:
    """True if the digit string passes the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def find_cards(text: str) -> Iterator[Hit]:
    """Luhn-valid card numbers; one digit repeated ("0000 0000 ...") is filler, not a card."""
    for m in _CARD_RE.finditer(text):
        digits = re.sub(r"[ -]", "", m.group())
        if luhn_ok(digits) and digits.count(digits[0]) != len(digits):
            yield Hit(m.start(), m.end(), CARD, digits)


# --- IBAN ----------------------------------------------------------------------------------

# ISO 13616 lengths. A country missing here is not detected: a wrong length would be worse.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "KW": 30, "KZ": 20, "LB": 28,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MT": 31,
    "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VA": 22,
}
# Found by its two check digits (a digit-led scan is ~4x cheaper than a letter-led one); the
# match starts there, the country code is the two letters before it.
_IBAN_CHECK_RE = re.compile(r"[0-9](?<=[A-Za-z]{2}[0-9])(?<!\w[A-Za-z]{2}[0-9])[0-9]")


def iban_ok(compact: str) -> bool:
    """True if an upper-case, space-free IBAN has its country's length and a valid mod-97 check."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isascii():
        return False
    rearranged = compact[4:] + compact[:4]
    if not rearranged.isalnum():
        return False
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def find_ibans(text: str) -> Iterator[Hit]:
    """IBANs written compact or in groups separated by single spaces, upper or lower case."""
    n = len(text)
    for m in _IBAN_CHECK_RE.finditer(text):
        start = m.start() - 2
        length = IBAN_LENGTHS.get(text[start:start + 2].upper())
        if length is None:
            continue
        chars, i = [text[start:m.end()]], m.end()
        count = 4
        while count < length and i < n:
            ch = text[i]
            if ch == " " and text[i - 1] != " " and i + 1 < n and text[i + 1].isalnum():
                i += 1
            elif ch.isascii() and ch.isalnum():
                chars.append(ch)
                count += 1
                i += 1
            else:
                break
        if count != length or (i < n and _is_word_char(text[i])):
            continue
        compact = "".join(chars).upper()
        if iban_ok(compact):
            yield Hit(start, i, IBAN, compact)


# --- US SSN --------------------------------------------------------------------------------

_SSN_RE = re.compile(r"([0-9](?<![\w-][0-9])[0-9]{2})-([0-9]{2})-([0-9]{4})(?![\w-])")


def ssn_ok(area: str, group: str, serial: str) -> bool:
    """False for ranges the SSA never issues: area 000, 666, 9xx; group 00; serial 0000."""
    return (area not in ("000", "666") and not area.startswith("9")
            and group != "00" and serial != "0000")


def find_ssns(text: str) -> Iterator[Hit]:
    """US social security numbers written AAA-GG-SSSS."""
    for m in _SSN_RE.finditer(text):
        if ssn_ok(*m.groups()):
            yield Hit(m.start(), m.end(), SSN, "".join(m.groups()))


# --- IP addresses --------------------------------------------------------------------------

_IPV4_RE = re.compile(r"[0-9](?<![\w.][0-9])[0-9]{0,2}(?:\.[0-9]{1,3}){3}(?!\.?\w)")
# The embedded-IPv4 tail is tried first so "::ffff:192.0.2.1" is not cut at "192".
_IPV6_RE = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f]{1,4})?"
    r"(?![\w:]|\.[0-9])")
# Both IPv6 shapes contain "::" or "hex:hex:"; most mail has neither, so skip the full scan.
_IPV6_HINT_RE = re.compile(r"::|:[0-9A-Fa-f]{1,4}:")


def find_ips(text: str) -> Iterator[Hit]:
    """IPv4 and IPv6 addresses that `ipaddress` accepts, keyed by their canonical form."""
    if "." in text:
        for m in _IPV4_RE.finditer(text):
            try:
                addr = ipaddress.IPv4Address(m.group())
            except ValueError:  # 999.1.1.1, leading zeros
                continue
            yield Hit(m.start(), m.end(), IP, str(addr))
    if ":" in text and _IPV6_HINT_RE.search(text):
        for m in _IPV6_RE.finditer(text):
            candidate = m.group()
            # "::" alone, times like "10:30:00" and bare hex words are not addresses.
            if not any(ch.isdigit() for ch in candidate) or len(candidate) < 3:
                continue
            try:
                addr6 = ipaddress.IPv6Address(candidate)
            except ValueError:
                continue
            yield Hit(m.start(), m.end(), IP, str(addr6))


# --- literal alternations: names and tenant word lists --------------------------------------

# Honorifics in a display name ("Dr. Jane Doe") are not name parts worth redacting on their own.
_HONORIFICS = frozenset({"Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof", "Sir", "Dame", "Herr",
                         "Frau", "Mme", "Mlle", "Rev", "Fr"})
_NAME_SPLIT_RE = re.compile(r"[\s,]+")
_NAME_STRIP = "\"'()<>[]."


def name_variants(names: Iterable[str]) -> set[str]:
    """Full names (also "Doe, Jane" turned round) plus their capitalised parts of 3+ letters."""
    out: set[str] = set()
    for raw in names:
        name = " ".join(raw.split()).strip(_NAME_STRIP + " ")
        if len(name) < 2 or "@" in name or not any(ch.isalpha() for ch in name):
            continue
        out.add(name)
        words = [w.strip(_NAME_STRIP) for w in _NAME_SPLIT_RE.split(name)]
        words = [w for w in words if w and w not in _HONORIFICS]
        if "," in name:
            last, _, first = name.partition(",")
            out.add(" ".join((first + " " + last).split()))
        if len(words) > 1:
            out.add(" ".join(words))
        for word in words:
            for part in {word, *word.split("-")}:
                if len(part) >= 3 and part[0].isupper() and sum(c.isalpha() for c in part) >= 3:
                    out.add(part)
    return out


def literal_regex(phrases: Iterable[str], *, ignore_case: bool) -> re.Pattern[str] | None:
    """One alternation matching any phrase (longest first, any whitespace between words)."""
    ordered = sorted({" ".join(p.split()) for p in phrases if p.strip()},
                     key=lambda p: (-len(p), p))
    if not ordered:
        return None

    def body(phrase: str) -> str:
        return r"\s+".join(re.escape(w) for w in phrase.split())

    # The left word boundary is checked in Python (find_literals), and a case-insensitive list
    # starts with a plain character class: either form keeps re's first-character scan, which
    # a lookbehind or a global IGNORECASE in front would disable (3-4x slower).
    if not ignore_case:
        return re.compile("(?:" + "|".join(body(p) for p in ordered) + r")(?!\w)")
    firsts = sorted({c for p in ordered for c in (p[0], p[0].lower(), p[0].upper()) if len(c) == 1})
    tails = "|".join(f"(?<={re.escape(p[0])}){body(p)[len(re.escape(p[0])):]}" for p in ordered)
    return re.compile(f"[{''.join(re.escape(c) for c in firsts)}](?i:{tails})(?!\\w)")


def find_literals(text: str, regex: re.Pattern[str], labels: Mapping[str, str] | str, *,
                  fold: bool) -> Iterator[Hit]:
    """Whole-word matches of a `literal_regex`; `labels` maps each key (or all) to a type.

    `fold` makes keys case-insensitive, so "Falcon" and "FALCON" share a placeholder.
    """
    pos = 0
    while (m := regex.search(text, pos)) is not None:
        if m.start() > 0 and _is_word_char(text[m.start() - 1]):
            pos = m.start() + 1
            continue
        key = " ".join(m.group().split())
        key = key.casefold() if fold else key
        label = labels if isinstance(labels, str) else labels.get(key)
        if label is not None:
            yield Hit(m.start(), m.end(), label, key)
        pos = m.end()


def find_pattern(text: str, regex: re.Pattern[str], label: str) -> Iterator[Hit]:
    """Non-empty matches of a tenant's own (already vetted) regex, keyed by the exact text."""
    for m in regex.finditer(text):
        if m.end() > m.start():
            yield Hit(m.start(), m.end(), label, m.group())
