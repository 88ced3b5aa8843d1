"""Split a plain-text body into the newest message, the quoted history and the signature."""
from __future__ import annotations

import re

from backend.drafting.model import ParsedBody

# Every pattern runs on one stripped line (or up to three joined lines) of at most 400
# characters, and cheap checks on the first and last character gate the costlier ones, so a
# hostile body costs time linear in its length.
_MAX_HEADER_LINE = 400

_FROM_LABELS = ("from", "von", "de", "da", "van", "från", "fra")
_OTHER_LABELS = (
    "sent", "date", "to", "cc", "bcc", "subject", "reply-to",  # English
    "gesendet", "datum", "an", "betreff", "antwort an",  # German
    "envoyé", "envoye", "à", "a", "objet", "répondre à",  # French (and Italian "A")
    "enviado", "enviado el", "enviada", "fecha", "para", "asunto", "responder a",  # es, pt
    "inviato", "data", "oggetto", "rispondi a",  # Italian
    "verzonden", "aan", "onderwerp",  # Dutch
    "assunto",  # Portuguese
)
_LABELS = frozenset(_FROM_LABELS + _OTHER_LABELS)
_LABEL_DECORATION = " \t*_"  # "*From:*" and "**Von:**" from bold HTML rendered as text
_SEPARATOR_PHRASES = (
    r"original message|forwarded message|original-nachricht|ursprüngliche nachricht"
    r"|weitergeleitete nachricht|message d'origine|message original|message transféré"
    r"|mensaje original|mensaje reenviado|messaggio originale|messaggio inoltrato"
    r"|oorspronkelijk bericht|doorgestuurd bericht|mensagem original|mensagem encaminhada"
)
_DASHED_SEPARATOR = re.compile(rf"^-{{2,}}\s*(?:{_SEPARATOR_PHRASES})\s*-{{2,}}$", re.IGNORECASE)
_BARE_SEPARATOR = re.compile(rf"^(?:{_SEPARATOR_PHRASES})\s*:?$", re.IGNORECASE)
_FORWARD_INTRO = re.compile(
    r"^(?:begin forwarded message|anfang der weitergeleiteten nachricht"
    r"|début du message réexpédié|inicio del mensaje reenviado|inizio messaggio inoltrato"
    r"|início da mensagem reencaminhada|begin doorgestuurd bericht)\s*:$",
    re.IGNORECASE,
)
_RULE = re.compile(r"^(?:_{10,}|-{10,})$")

# "On <date>, <name> wrote:" in the languages Replywise serves. Clients always write a time or
# an address into it; requiring one keeps prose such as "Am Montag schrieb ich Ihnen:" or
# "On the whole, Bob wrote:" in the message.
_ATTRIBUTION_START = re.compile(r"^(?:On|Le|Am|El|Il|Op|Em)\s")
_ATTRIBUTION_INITIALS = frozenset("OLAEI")
_ATTRIBUTION = re.compile(
    r"^(?:On\s.*\swrote"
    r"|Le\s.*\sa\s+écrit"
    r"|Am\s.*\sschrieb(?:\s.*)?"
    r"|El\s.*\sescribió"
    r"|Il\s.*\sha\s+scritto"
    r"|Op\s.*\sschreef(?:\s.*)?"
    r"|Em\s.*\sescreveu)\s*:$"
)
# Older clients: "Jane Doe <jane@x.com> wrote:" / "... schrieb am 06.01.2025 10:00:".
_NAMED_ATTRIBUTION = re.compile(
    r"^[^<>@]{0,80}<?[\w.+'-]+@[\w.-]+>?\)?,?\s+"
    r"(?:wrote|schrieb|a écrit|escribió|ha scritto|schreef|escreveu)\b[^:]{0,80}:$"
)
_TIME_OR_ADDRESS = re.compile(r"\d:\d\d|\d ?h ?\d\d|@")

_CLOSINGS = (
    # English
    "best", "best regards", "best wishes", "kind regards", "kindest regards", "warm regards",
    "warmest regards", "warm wishes", "regards", "many thanks", "thanks", "thank you",
    "thanks again", "thanks so much", "thank you so much", "thank you very much", "thanks a lot",
    "thanks in advance", "thank you in advance", "cheers", "sincerely", "yours sincerely",
    "sincerely yours", "yours faithfully", "yours truly", "all the best", "all best",
    "take care", "talk soon", "speak soon", "with thanks", "with best regards",
    "with kind regards", "br", "rgds", "thx",
    # French
    "cordialement", "bien cordialement", "très cordialement", "bien à vous", "bien à toi",
    "merci", "merci beaucoup", "merci d'avance", "merci par avance", "salutations",
    "sincères salutations", "meilleures salutations", "bonne journée", "à bientôt",
    "amicalement", "bises",
    # German
    "mit freundlichen grüßen", "mit freundlichen grüssen", "freundliche grüße",
    "freundliche grüsse", "viele grüße", "viele grüsse", "beste grüße", "beste grüsse",
    "liebe grüße", "liebe grüsse", "herzliche grüße", "herzliche grüsse", "schöne grüße",
    "gruß", "gruss", "grüße", "grüsse", "lg", "vg", "mfg", "danke", "vielen dank",
    "besten dank", "danke schön",
    # Spanish
    "saludos", "un saludo", "saludos cordiales", "un cordial saludo", "atentamente",
    "cordialmente", "gracias", "muchas gracias", "un abrazo", "abrazos",
    # Italian
    "cordiali saluti", "saluti", "distinti saluti", "un saluto", "cari saluti", "grazie",
    "grazie mille", "a presto", "buona giornata",
    # Portuguese
    "atenciosamente", "cumprimentos", "melhores cumprimentos", "abraço", "abraços",
    "um abraço", "obrigado", "obrigada", "muito obrigado", "muito obrigada",
    # Dutch
    "met vriendelijke groet", "met vriendelijke groeten", "vriendelijke groet", "groeten",
    "groet", "hartelijke groet", "mvg", "bedankt", "alvast bedankt",
)
# The closing may carry the sender's name on the same line ("Thanks, Jane"); the name must be
# capitalised, which keeps "Thanks for the update" from looking like a closing.
_NAME_WORD = r"[A-ZÀ-ÖØ-Þ][\w.'’-]*"
_CLOSING = re.compile(
    r"^(?i:" + "|".join(sorted(map(re.escape, _CLOSINGS), key=len, reverse=True)) + r")"
    rf"(?:\s*[,.!;:\-–—]+)?(?:\s+{_NAME_WORD}(?:\s{_NAME_WORD}){{0,2}}[,.!]?)?$"
)
_MOBILE_FOOTER = re.compile(
    r"^(?:sent from my .{1,60}|sent from (?:outlook|mail|yahoo|aol|gmail|samsung|proton)\b.{0,60}"
    r"|sent (?:via|with) .{1,60}|get outlook for (?:ios|android)\b.{0,60}"
    r"|von meinem .{1,60} gesendet|gesendet von .{1,60}|envoyé de mon .{1,60}"
    r"|envoyé depuis .{1,60}|enviado desde mi .{1,60}|enviado do meu .{1,60}"
    r"|inviato da .{1,60}|verzonden (?:vanaf|met) .{1,60}|verstuurd vanaf .{1,60})$",
    re.IGNORECASE,
)
_MAX_SIGNATURE_LINES = 6  # after the closing: name, title, company, phone, address, web
_MAX_SIGNATURE_LINE = 100
_SENTENCE_END = re.compile(r"[.!?]$")


def split_body(text: str) -> ParsedBody:
    """Split a body into what the sender just wrote, the quoted history and the signature."""
    if not text or not text.strip():
        return ParsedBody(latest="")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ").split("\n")
    start = _quote_start(lines)
    body = lines if start is None else lines[:start]
    history = "" if start is None else "\n".join(lines[start:]).strip()
    latest, signature = _split_signature(body)
    return ParsedBody(latest=latest, quoted_history=history, signature=signature)


def _quote_start(lines: list[str]) -> int | None:
    """Index of the line where the quoted history begins, if any."""
    # Once a ">" block turns out to be an inline reply (answers between the quoted lines), later
    # ">" lines and attributions belong to that conversation and stay in the message.
    inline = False
    i, count = 0, len(lines)
    while i < count:
        line = lines[i].strip()
        if not line or len(line) > _MAX_HEADER_LINE:
            i += 1
            continue
        if line.startswith(">"):
            if not inline:
                if _is_top_quote(lines, i):
                    return i
                inline = True
            i += 1
            continue
        first, last = line[0], line[-1]
        if first in "-_" and (
            _DASHED_SEPARATOR.match(line) or (_RULE.match(line) and _header_follows(lines, i + 1))
        ):
            return i
        if last == ":" and _FORWARD_INTRO.match(line):
            return i
        end = _attribution_end(lines, i) if first in _ATTRIBUTION_INITIALS or last == ":" else None
        if end is not None:
            if not inline:
                if _is_top_quote(lines, end + 1):
                    return i
                inline = True
            i = end + 1
            continue
        if ":" in line and _header_label(line) and _is_header_block(lines, i):
            return _extend_back(lines, i)
        i += 1
    return None


def _attribution_end(lines: list[str], i: int) -> int | None:
    """Last line of an "On ... wrote:" header starting at line i (Gmail wraps it over two)."""
    line = lines[i].strip()
    if line.endswith(":") and "@" in line and _NAMED_ATTRIBUTION.match(line):
        return i
    if not _ATTRIBUTION_START.match(line):
        return None
    joined = line
    for k in range(i, min(i + 3, len(lines))):
        if k > i:
            piece = lines[k].strip()
            if not piece or piece.startswith(">"):
                return None
            joined = f"{joined} {piece}"
        if len(joined) > _MAX_HEADER_LINE:
            return None
        if joined[-1] == ":" and _ATTRIBUTION.match(joined):
            return k if _TIME_OR_ADDRESS.search(joined) else None
    return None


def _header_label(line: str) -> str | None:
    """The lower-cased label of a mail header line ("Von: ...", "*Sent:* ..."), if it is one."""
    head, colon, _ = line[:24].partition(":")
    if not colon:
        return None
    label = head.strip(_LABEL_DECORATION).lower()
    return label if label in _LABELS else None


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _is_top_quote(lines: list[str], start: int) -> bool:
    """True when the quote from `start` runs to the end (top-posting), not an inline reply."""
    first = next((j for j in range(start, len(lines)) if lines[j].strip()), None)
    if first is None or not _is_quoted(lines[first]):
        return True  # an attribution followed by unprefixed text (Apple Mail, Outlook plain)
    last = max(j for j in range(first, len(lines)) if _is_quoted(lines[j]))
    if any(lines[j].strip() and not _is_quoted(lines[j]) for j in range(first, last)):
        return False
    tail = [line for line in lines[last + 1 :]]
    content = [j for j, line in enumerate(tail) if line.strip()]
    # Text under the quote is a bottom-posted answer, unless it is only a signature.
    return not content or _signature_start(tail) == content[0]


def _header_follows(lines: list[str], start: int) -> bool:
    for line in lines[start : start + 3]:
        line = line.strip()
        if line:
            return _header_label(line) is not None
    return False


def _is_header_block(lines: list[str], start: int) -> bool:
    """At least three header lines (one of them From) within the next few lines."""
    labels, stray, seen, has_from = 0, 0, 0, False
    for line in lines[start : start + 12]:
        line = line.strip()
        if not line:
            continue
        seen += 1
        label = _header_label(line)
        if label:
            labels += 1
            has_from = has_from or label in _FROM_LABELS
            if labels >= 3 and has_from:
                return True
        else:
            stray += 1  # one wrapped "To:" list is fine; more means prose
            if stray > 1:
                return False
        if seen >= 8:
            break
    return False


def _extend_back(lines: list[str], start: int) -> int:
    """Include the separator line (underscores, "Original message") just above a header block."""
    j = start - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    if j >= 0:
        line = lines[j].strip()
        if _RULE.match(line) or _BARE_SEPARATOR.match(line):
            return j
    return start


def _split_signature(lines: list[str]) -> tuple[str, str]:
    """(latest, signature) from the lines above the quoted history."""
    start = _signature_start(lines)
    if start is None:
        return "\n".join(lines).strip(), ""
    latest = "\n".join(lines[:start]).strip()
    if not latest:
        # Everything looks like a signature ("Thanks!\nJane"): it is still the message.
        return "\n".join(lines).strip(), ""
    if lines[start].strip() == "--":
        start += 1  # the "-- " delimiter marks the signature; it is not part of it
    return latest, "\n".join(lines[start:]).strip()


def _signature_start(lines: list[str]) -> int | None:
    """Index where the signature begins: a valediction block, a "-- " line or a mobile footer."""
    content = [j for j, line in enumerate(lines) if line.strip()]
    if not content:
        return None
    hard: int | None = None
    for j in reversed(content):
        if lines[j].strip() == "--":
            hard = j
            break
    for j in content[-3:]:
        if _MOBILE_FOOTER.match(lines[j].strip()):
            hard = j if hard is None else min(hard, j)
            break
    limit = len(lines) if hard is None else hard
    closing = _closing_line(lines, [j for j in content if j < limit])
    return closing if closing is not None else hard


def _closing_line(lines: list[str], content: list[int]) -> int | None:
    """The closing ("Best regards,") followed only by a few short, non-sentence lines."""
    after = 0
    for j in reversed(content):
        line = lines[j].strip()
        if _CLOSING.match(line):
            return j
        after += 1
        if after > _MAX_SIGNATURE_LINES or len(line) > _MAX_SIGNATURE_LINE or _is_sentence(line):
            return None
    return None


def _is_sentence(line: str) -> bool:
    """Prose, not a signature line: a question, or five-plus words ending like a sentence."""
    return line.endswith("?") or (_SENTENCE_END.search(line) is not None and len(line.split()) >= 5)
