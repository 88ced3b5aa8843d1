"""Real-world mail HTML (Outlook Word-HTML, Gmail, Apple Mail, newsletters) to clean plain text."""
from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass, field
from enum import Enum, auto
from urllib.parse import unquote

from lxml import etree

# Plain etree elements (not lxml.html's) skip a Python class lookup per element, which is most
# of the cost on long mails. Comments go at parse time: that removes Outlook's conditional
# comments (<!--[if mso]>), and libxml2 already swallows the <![if !supportLists]> markers.
# huge_tree lifts libxml2's nesting limit from 256 to 2048: a long Gmail thread nests a few
# levels per reply and would otherwise lose its oldest messages. Anything deeper is dropped,
# never re-read by a cruder fallback that would ignore hidden-content rules.
_PARSER_OPTIONS = {"remove_comments": True, "remove_pis": True, "no_network": True,
                   "huge_tree": True}


class _Kind(Enum):
    DROP = auto()
    BREAK = auto()
    PARAGRAPH = auto()  # <p>: a spaced paragraph, or a line when Outlook sets no margin
    SPACED = auto()  # headings, <hr>, <table>: a blank line before and after
    LINE = auto()  # <div> and friends: starts and ends a line
    QUOTE = auto()  # <blockquote>: its lines get "> "
    CELL = auto()  # <td>, <th>: rendered apart, then joined into the row
    ROW = auto()
    LIST = auto()
    ITEM = auto()
    PRE = auto()
    LINK = auto()


# Never text a reader sees: metadata, code, embedded objects, form controls and images (alt text
# of logos and tracking pixels is noise in a prompt).
_KINDS: dict[str, _Kind] = dict.fromkeys(
    ("head", "title", "style", "script", "noscript", "template", "meta", "link", "base",
     "object", "embed", "iframe", "frame", "frameset", "applet", "svg", "math", "canvas",
     "video", "audio", "img", "map", "area", "input", "select", "option", "textarea", "xml"),
    _Kind.DROP,
)
_KINDS.update(dict.fromkeys(
    ("div", "dd", "dt", "dl", "address", "center", "section", "article", "header", "footer",
     "nav", "aside", "main", "figure", "figcaption", "form", "fieldset", "legend", "details",
     "summary", "caption"),
    _Kind.LINE,
))
_KINDS.update(dict.fromkeys(("h1", "h2", "h3", "h4", "h5", "h6", "hr", "table"), _Kind.SPACED))
_KINDS.update(dict.fromkeys(("td", "th"), _Kind.CELL))
_KINDS.update(dict.fromkeys(("ul", "ol", "menu", "dir"), _Kind.LIST))
_KINDS.update(blockquote=_Kind.QUOTE, br=_Kind.BREAK, p=_Kind.PARAGRAPH, tr=_Kind.ROW,
              li=_Kind.ITEM, pre=_Kind.PRE, a=_Kind.LINK)

# Hidden text is a prompt-injection vector: a sender can hide "ignore previous instructions" in
# an element nobody sees. Inline styles only; rules in <style> blocks are not evaluated (that
# would need a CSS engine), which is why <style> itself is dropped, never interpreted.
_HIDDEN_STYLE = re.compile(
    r"display:none|visibility:hidden|mso-hide:all|opacity:0(?:\.0*)?(?:;|$)"
    r"|font-size:0(?:\.0*)?(?:px|pt|em|rem|%)?(?:;|$)"
)
_COLLAPSED_BOX = re.compile(r"(?:max-)?(?:height|width):0(?:px)?(?:;|$)")
_PRE_STYLE = re.compile(r"white-space:\s*pre", re.IGNORECASE)
_TIGHT_MARGIN = re.compile(r"margin(?:-bottom)?:0(?:\.0+)?[a-z%]*(?:;|$)")

_SPACES = re.compile(r"\s+")
# Zero-width characters and soft hyphens (newsletter preheader padding); a regex beats
# str.translate, which is slow on non-ASCII text.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad\u034f]")
# Outlook writes list bullets as glyphs of Symbol/Wingdings fonts ("·", "§", "o", "Ø").
_WORD_BULLET = re.compile(r"^[·•▪◦●○■□§Øüo]\s+")
# Lone surrogates (JSON can carry "\ud800") make libxml2 stop reading mid-document.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_URL_PREFIX = re.compile(r"^(?:https?://|mailto:|tel:)(?:www\.)?", re.IGNORECASE)
_SAFELINK = re.compile(r"^https://[\w.-]+\.safelinks\.protection\.outlook\.com/\?url=([^&]+)")
_BLANK_RUNS = re.compile(r"\n{3,}")


@dataclass
class _Sink:
    """Lines being written for one container (the document or a table cell)."""

    lines: list[tuple[int, str]] = field(default_factory=list)  # (quote depth, text)
    parts: list[str] = field(default_factory=list)
    depth: int = 0  # open <blockquote>s
    prefix: str = ""  # list marker waiting for the next line with content
    word_list: bool = False  # the current line is an Outlook list paragraph

    def end_line(self, force: bool = False) -> None:
        """Finish the current line; `force` (a <br>) keeps it even when empty."""
        raw = _INVISIBLE.sub("", "".join(self.parts))
        self.parts.clear()
        # A lone &nbsp; counts as content: Outlook's <p>&nbsp;</p> is its blank line.
        if not force and not raw.strip(" \t\n\r\f\v"):
            return
        line = _SPACES.sub(" ", raw).strip()
        if line and self.word_list:
            line = _WORD_BULLET.sub("- ", line, count=1)
            self.word_list = False
        if line and self.prefix:
            line = self.prefix + line
            self.prefix = ""
        self.lines.append((self.depth, line))

    def end_paragraph(self) -> None:
        self.end_line()
        if self.lines and self.lines[-1][1]:
            self.lines.append((self.depth, ""))

    def add_lines(self, lines: list[str]) -> None:
        self.end_line()
        self.lines.extend((self.depth, line) for line in lines)

    def finish(self) -> list[str]:
        """Rendered lines: "> " per quote level, no leading/trailing or repeated blank lines."""
        self.end_line()
        kept = [
            (depth, text)
            for i, (depth, text) in enumerate(self.lines)
            if text or (i and self.lines[i - 1][1])
        ]
        while kept and not kept[-1][1]:
            kept.pop()
        out: list[str] = []
        for i, (depth, text) in enumerate(kept):
            if not text:
                # A blank line between two quote levels belongs to the outer one, so a quote
                # stays one unbroken run of ">" lines.
                depth = min(kept[i - 1][0], kept[i + 1][0])
                out.append(("> " * depth).rstrip())
            else:
                out.append("> " * depth + text)
        return out


@dataclass
class _Walk:
    """State of one conversion: a stack of sinks, open table rows and open lists."""

    sinks: list[_Sink] = field(default_factory=lambda: [_Sink()])
    rows: list[list[list[str]]] = field(default_factory=list)
    lists: list[list[int]] = field(default_factory=list)  # [ordered?, counter] per open list
    pre: list[etree._Element] = field(default_factory=list)

    def text(self, text: str) -> None:
        parts = self.sinks[-1].parts
        if not self.pre:
            parts.append(text)  # whitespace collapses once per line, in end_line
            return
        pieces = text.replace("\r\n", "\n").split("\n")
        parts.append(pieces[0])
        for piece in pieces[1:]:
            self.sinks[-1].end_line(force=True)
            parts.append(piece)


def html_to_text(html: str) -> str:
    """Convert a mail's HTML body to plain text, keeping paragraphs, lists, tables and quotes."""
    if not html or not html.strip():
        return ""
    source = _LONE_SURROGATE.sub("\ufffd", html.replace("\x00", ""))
    source = _XML_DECLARATION.sub("", source, count=1)
    try:
        # A parser per call (about a microsecond): lxml parsers must not be shared by threads.
        root = etree.fromstring(source, etree.HTMLParser(**_PARSER_OPTIONS))
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        root = None
    if root is None:
        # Comment- or declaration-only documents; keep whatever text there is.
        return _collapse(_INVISIBLE.sub("", html_lib.unescape(_TAG.sub(" ", source))))
    walk = _Walk()
    _walk_tree(root, walk)
    return "\n".join(walk.sinks[0].finish())


def _collapse(text: str) -> str:
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def _walk_tree(root: etree._Element, walk: _Walk) -> None:
    # iterwalk keeps the traversal in C and has no recursion limit (tag soup nests deep).
    events = etree.iterwalk(root, events=("start", "end"))
    skipped = None
    for event, element in events:
        tag = element.tag
        kind = _KINDS.get(tag) if isinstance(tag, str) else _Kind.DROP
        if event == "start":
            if kind is _Kind.DROP or _is_hidden(element):
                events.skip_subtree()
                skipped = element
                continue
            if kind is not None:
                _enter(element, kind, walk)
            if element.text:
                walk.text(element.text)
            continue
        if element is skipped:
            skipped = None
        elif kind is not None:
            _leave(element, kind, walk)
        if element.tail:
            walk.text(element.tail)


def _is_hidden(element: etree._Element) -> bool:
    style = element.get("style")
    if not style:
        return element.get("hidden") is not None
    style = "".join(style.split()).lower()
    if _HIDDEN_STYLE.search(style):
        return True
    if "overflow:hidden" in style and _COLLAPSED_BOX.search(style):
        return True
    return element.get("hidden") is not None


def _is_tight(element: etree._Element, walk: _Walk) -> bool:
    """Outlook's MsoNormal and margin-less paragraphs are lines, not spaced paragraphs."""
    if walk.lists or "Mso" in (element.get("class") or ""):
        return True
    style = element.get("style")
    return bool(style) and _TIGHT_MARGIN.search("".join(style.split()).lower()) is not None


def _enter(element: etree._Element, kind: _Kind, walk: _Walk) -> None:
    sink = walk.sinks[-1]
    if kind is _Kind.BREAK:
        sink.end_line(force=True)
    elif kind is _Kind.PARAGRAPH:
        if _is_tight(element, walk):
            sink.end_line()
        else:
            sink.end_paragraph()
        if "MsoListParagraph" in (element.get("class") or ""):
            sink.word_list = True
    elif kind is _Kind.LINE:
        sink.end_line()
        if _PRE_STYLE.search(element.get("style") or ""):
            walk.pre.append(element)
    elif kind is _Kind.SPACED:
        sink.end_paragraph()
    elif kind is _Kind.QUOTE:
        sink.end_line()
        sink.depth += 1
    elif kind is _Kind.CELL:
        sink.end_line()
        walk.sinks.append(_Sink())
    elif kind is _Kind.ROW:
        sink.end_line()
        walk.rows.append([])
    elif kind is _Kind.LIST:
        sink.end_line()
        walk.lists.append([int(element.tag == "ol"), _start_number(element)])
    elif kind is _Kind.ITEM:
        sink.end_line()
        marker = "- "
        if walk.lists and walk.lists[-1][0]:
            walk.lists[-1][1] += 1
            marker = f"{walk.lists[-1][1]}. "
        sink.prefix = "  " * max(len(walk.lists) - 1, 0) + marker
    elif kind is _Kind.PRE:
        sink.end_paragraph()
        walk.pre.append(element)


def _leave(element: etree._Element, kind: _Kind, walk: _Walk) -> None:
    sink = walk.sinks[-1]
    if walk.pre and walk.pre[-1] is element:
        walk.pre.pop()
    if kind is _Kind.LINK:
        suffix = _link_suffix(element)
        if suffix:
            sink.parts.append(suffix)
    elif kind is _Kind.PARAGRAPH:
        if _is_tight(element, walk):
            sink.end_line()
        else:
            sink.end_paragraph()
        sink.word_list = False  # an empty list paragraph must not mark the next line
    elif kind is _Kind.LINE:
        sink.end_line()
    elif kind in (_Kind.SPACED, _Kind.PRE):
        sink.end_paragraph()
    elif kind is _Kind.QUOTE:
        sink.end_line()
        sink.depth = max(sink.depth - 1, 0)
    elif kind is _Kind.CELL and len(walk.sinks) > 1:
        lines = walk.sinks.pop().finish()
        if walk.rows:
            if lines:
                walk.rows[-1].append(lines)
        else:
            walk.sinks[-1].add_lines(lines)  # a cell outside any row (tag soup)
    elif kind is _Kind.ROW and walk.rows:
        sink.add_lines(_row_lines(walk.rows.pop()))
    elif kind is _Kind.LIST:
        if walk.lists:
            walk.lists.pop()
        sink.end_line()
        if not walk.lists:
            sink.prefix = ""
    elif kind is _Kind.ITEM:
        sink.end_line()
        sink.prefix = ""


def _start_number(element: etree._Element) -> int:
    try:
        return int(element.get("start") or 1) - 1
    except ValueError:
        return 0


def _row_lines(cells: list[list[str]]) -> list[str]:
    """One line per data row ("a | b"); layout tables (multi-line cells) stay as plain lines."""
    if all(len(cell) == 1 for cell in cells):
        return [" | ".join(cell[0] for cell in cells)] if cells else []
    return [line for cell in cells for line in cell]


def _link_suffix(element: etree._Element) -> str:
    href = (element.get("href") or "").strip()
    if not href or href.startswith("#") or href.lower().startswith(("javascript:", "data:")):
        return ""
    unwrapped = _SAFELINK.match(href)
    if unwrapped:
        # Outlook's Safe Links wrap every URL; the original is what the sender meant.
        href = unquote(unwrapped.group(1))
    text = _SPACES.sub(" ", "".join(element.itertext())).strip()
    if not text or _same_target(text, href):
        return ""
    return f" ({href})"


def _same_target(text: str, href: str) -> bool:
    def norm(value: str) -> str:
        return _URL_PREFIX.sub("", value.strip()).rstrip("/").lower()

    return norm(text) == norm(href)
