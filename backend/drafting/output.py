"""What comes back from an LLM, made fit for the user: chatter removed, safe HTML built.

Model output is untrusted (it was conditioned on untrusted email), so the HTML form escapes
every character first, builds the few tags it needs itself, and still passes the result through
nh3's allow-list: a bug in the building cannot let markup through.
"""
from __future__ import annotations

import html
import re

import nh3

ALLOWED_TAGS = frozenset({"p", "br", "ul", "li", "strong", "em", "a"})
ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})

_INTERJECTION = (
    r"(?:sure|certainly|of\s+course|absolutely|okay|ok|great|no\s+problem|happy\s+to\s+help"
    r"|bien\s+sûr|certainement|d['’]accord|avec\s+plaisir|gerne|natürlich|selbstverständlich"
    r"|klar|claro|por\s+supuesto|desde\s+luego|certo|certamente|naturalmente|con\s+piacere"
    r"|zeker|natuurlijk|com\s+certeza)"
)
# A bare "Sure!" line before the draft.
_INTERJECTION_LINE = re.compile(rf"^\W*{_INTERJECTION}\W*$", re.IGNORECASE)
_DRAFT_WORD = (
    r"(?:draft|reply|response|email|e-mail|message|version|réponse|brouillon|proposition"
    r"|courriel|mail|entwurf|antwort|vorschlag|nachricht|borrador|respuesta|correo|mensaje"
    r"|bozza|risposta|proposta|messaggio|rascunho|resposta|mensagem|concept(?:-antwoord)?"
    r"|antwoord|bericht)"
)
# "Here is a draft reply:", "Voici une proposition de réponse :", "Hier ist ein Entwurf:" ...
# Only a first line that announces a draft and ends with a colon; the draft's own words follow.
_PREAMBLE = re.compile(
    rf"^\W*(?:{_INTERJECTION}[\s!.,]*)?"
    r"(?:here(?:['’]s|\s+is|\s+are)|below\s+is|i(?:['’]ve|\s+have)\s+(?:drafted|written|prepared)"
    r"|this\s+is|voici|voilà|je\s+vous\s+propose|hier\s+(?:ist|sind)|anbei|aquí\s+(?:tienes|"
    r"tiene|está|va)|te\s+propongo|le\s+propongo|ecco|ti\s+propongo|aqui\s+está"
    rf"|hier\s+is)\b[^\n]{{0,160}}?\b{_DRAFT_WORD}[^\n]{{0,80}}?[:：]\W*$",
    re.IGNORECASE,
)
# A bare label such as "**Draft reply:**", "Suggested response:" or "Entwurf:".
_LABEL = re.compile(
    rf"^[\W_]*(?:\w+[ -]){{0,2}}{_DRAFT_WORD}(?:[ -]\w+){{0,2}}[ \t*_]*[:：][\W_]*$", re.IGNORECASE)
_SUBJECT_LINE = re.compile(
    r"^\W*(?:subject|objet|betreff|asunto|oggetto|assunto|onderwerp)\s*\**\s*[:：][^\n]*$",
    re.IGNORECASE,
)
_RULE_LINE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,}|={3,})\s*$")
_FENCE = re.compile(r"```[\w+-]*[ \t]*\n(?P<body>.*?)\n?```", re.DOTALL)

_QUOTE_PAIRS = {'"': '"', "“": "”", "«": "»", "„": "“", "'": "'"}
# Trailing offers to revise the draft. Only removed where they cannot be the reply's own words
# (after the sign-off, after a rule, or talking about the draft itself), see clean_draft.
_CHATTER = re.compile(
    r"^\W*(?:let\s+me\s+know|feel\s+free|would\s+you\s+like|do\s+you\s+want|i\s+can\s+also"
    r"|if\s+you(?:['’]d|\s+would)\s+like|i\s+hope\s+this\s+helps|hope\s+this\s+helps|note:"
    r"|n['’]hésitez\s+pas|dites-moi|faites-moi\s+savoir|souhaitez-vous|voulez-vous|si\s+vous"
    r"\s+souhaitez|lassen\s+sie\s+mich\s+wissen|sagen\s+sie\s+mir|möchten\s+sie|soll\s+ich"
    r"|falls\s+sie|sag\s+mir|avísame|dime|si\s+quieres|si\s+deseas|¿quieres|¿desea|fammi\s+sapere"
    r"|dimmi|se\s+vuoi|se\s+desideri|vuoi\s+che|fatemi\s+sapere)",
    re.IGNORECASE,
)
_DRAFT_TALK = re.compile(
    r"\b(?:draft|version|tone|template|tweak|adjust|brouillon|ajust|entwurf|anpass|borrador"
    r"|bozza|rascunho)", re.IGNORECASE,
)
_SIGN_OFF = re.compile(
    r"^(?:kind\s+regards|best\s+regards|warm\s+regards|regards|best\s+wishes|best|cheers"
    r"|thanks(?:\s+again)?|thank\s+you|many\s+thanks|all\s+the\s+best|(?:yours\s+)?sincerely"
    r"|yours\s+(?:faithfully|truly)|(?:bien\s+)?cordialement|bien\s+à\s+vous|salutations"
    r"(?:\s+distinguées)?|à\s+bientôt|mit\s+freundlichen\s+grüßen|(?:viele|liebe|beste"
    r"|freundliche)\s+grüße|atentamente|saludos(?:\s+cordiales)?|un\s+saludo|distinti\s+saluti"
    r"|cordiali\s+saluti|a\s+presto|saluti)\b[^\n]{0,30}$",
    re.IGNORECASE | re.MULTILINE,
)
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
_BLANK_RUN = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_BULLET = re.compile(r"^\s*[-*•]\s+")
# Links: markdown [text](url), bare http(s) URLs, e-mail addresses.
_LINK = re.compile(
    r"\[(?P<text>[^\[\]\n]{1,200})\]\((?P<href>(?:https?://|mailto:)[^\s()<>]{1,2000})\)"
    r"|(?P<url>https?://[^\s<>\"'`]{1,2000})"
    r"|(?<![\w.+-])(?P<email>[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+)",
    re.IGNORECASE,
)
_URL_TRAILING = ".,;:!?)]}'\"»”’"
_STRONG = re.compile(r"\*\*(?=[^\s*])([^*\n]{1,400}?)(?<=\S)\*\*")
_EMPHASIS = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]{1,400}?)(?<=\S)\*(?![\w*])")


def _strip_wrapping(text: str) -> str:
    """Remove a code fence or a pair of quotes wrapped around the whole draft."""
    fences = list(_FENCE.finditer(text))
    if len(fences) == 1:
        start, end = fences[0].span()
        before, after = text[:start].strip(), text[end:].strip()
        # The fence wraps the draft only when nothing but chatter surrounds it; a reply that
        # merely contains a snippet keeps its fence.
        if _only_preamble(before) and (not after or _CHATTER.match(after)
                                       or _DRAFT_TALK.search(after)):
            text = fences[0].group("body").strip()
    if len(text) > 2 and text[0] in _QUOTE_PAIRS and text[-1] == _QUOTE_PAIRS[text[0]]:
        inner = text[1:-1]
        # Only when the quotes are a wrapper, not the draft opening and closing with a quotation.
        if text[0] not in inner and _QUOTE_PAIRS[text[0]] not in inner:
            text = inner.strip()
    return text


def _only_preamble(text: str) -> bool:
    """Whether `text` is empty or nothing but lines that announce a draft."""
    return not _drop_leading_chatter(text.split("\n"))


def _drop_leading_chatter(lines: list[str]) -> list[str]:
    """Drop "Sure!", "Here is a draft:", "Subject: ..." and rules from the top of the draft.

    A preamble alone is dropped too: the streaming service cleans the first paragraph on its
    own, before the draft that follows it has arrived.
    """
    start = 0
    while start < len(lines):
        head = lines[start].strip()
        if (not head or _RULE_LINE.match(head) or _INTERJECTION_LINE.match(head)
                or _PREAMBLE.match(head) or (len(head) <= 60 and _LABEL.match(head))
                or _SUBJECT_LINE.match(head)):
            start += 1
        else:
            break
    return lines[start:]


def _drop_trailing_chatter(paragraphs: list[str]) -> list[str]:
    """Drop closing offers to revise the draft, keeping reply text that merely looks alike."""
    # A rule near the end separates the reply from the model's notes about it.
    for index in range(len(paragraphs) - 1, max(0, len(paragraphs) - 4), -1):
        if _RULE_LINE.match(paragraphs[index]):
            after = "\n".join(paragraphs[index + 1:])
            if not after or _CHATTER.match(after) or _DRAFT_TALK.search(after):
                paragraphs = paragraphs[:index]
            break
    while len(paragraphs) > 1:
        last, before = paragraphs[-1], paragraphs[-2]
        # "Let me know if you'd like any changes." is chatter after the sign-off, but can be a
        # genuine closing sentence of the reply itself when no sign-off precedes it.
        after_sign_off = bool(_SIGN_OFF.search(before))
        if _CHATTER.match(last) and (after_sign_off or _DRAFT_TALK.search(last)):
            paragraphs = paragraphs[:-1]
        else:
            break
    return paragraphs


def clean_draft(text: str) -> str:
    """The reply body alone: no preamble, subject line, wrapper or trailing chatter."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0\n", "\n").strip()
    text = _strip_wrapping(text)
    text = "\n".join(_drop_leading_chatter(text.split("\n")))
    text = _strip_wrapping(text.strip())
    text = _TRAILING_SPACE.sub("", text)
    paragraphs = [p.strip("\n") for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
    paragraphs = _drop_trailing_chatter(paragraphs)
    return _BLANK_RUN.sub("\n\n", "\n\n".join(paragraphs)).strip()


def _inline(segment: str) -> str:
    """Escape a run of plain text, then apply **strong** and *emphasis*."""
    escaped = html.escape(segment, quote=True)
    escaped = _STRONG.sub(r"<strong>\1</strong>", escaped)
    return _EMPHASIS.sub(r"<em>\1</em>", escaped)


def _link(href: str, label: str) -> str:
    """An anchor built from already validated parts."""
    return f'<a href="{html.escape(href, quote=True)}">{html.escape(label, quote=True)}</a>'


def _line_to_html(line: str) -> str:
    """One line of text as safe inline HTML, with links made clickable."""
    out: list[str] = []
    position = 0
    for match in _LINK.finditer(line):
        start, end = match.span()
        trailing = ""
        if match.group("text"):
            piece = _link(match.group("href"), match.group("text"))
        elif match.group("url"):
            url = match.group("url")
            kept = url.rstrip(_URL_TRAILING)
            trailing = url[len(kept):]
            if "://" not in kept or kept.endswith("://"):
                continue
            piece = _link(kept, kept)
        else:
            address = match.group("email")
            piece = _link(f"mailto:{address}", address)
        out.append(_inline(line[position:start]))
        out.append(piece)
        out.append(html.escape(trailing, quote=True))
        position = end
    out.append(_inline(line[position:]))
    return "".join(out)


def _block_to_html(block: str) -> str:
    """One paragraph: runs of "- " lines become a list, other lines a <p> with <br> breaks."""
    pieces: list[str] = []
    prose: list[str] = []
    items: list[str] = []

    def flush_prose() -> None:
        if prose:
            pieces.append("<p>" + "<br>".join(_line_to_html(x) for x in prose) + "</p>")
            prose.clear()

    def flush_items() -> None:
        if items:
            pieces.append("<ul>" + "".join(f"<li>{_line_to_html(x)}</li>" for x in items)
                          + "</ul>")
            items.clear()

    for line in block.split("\n"):
        bullet = _BULLET.match(line)
        if bullet:
            flush_prose()
            items.append(line[bullet.end():].strip())
        else:
            flush_items()
            prose.append(line.strip())
    flush_prose()
    flush_items()
    return "".join(pieces)


def draft_to_html(text: str) -> str:
    """Safe HTML for a plain-text draft: paragraphs, line breaks, bullet lists and links."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return ""
    blocks = [b for b in _PARAGRAPH_BREAK.split(text) if b.strip()]
    built = "".join(_block_to_html(b.strip("\n")) for b in blocks)
    return nh3.clean(
        built,
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes={"a": {"href"}},
        url_schemes=set(ALLOWED_SCHEMES),
        url_relative="deny",
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
