"""Text out of files: PDF (PDFium, C++), DOCX (its XML, read with lxml), HTML, Markdown, text.

Every extractor returns the text page by page (formats without fixed pages give one "page", or
DOCX's own page breaks). A file that cannot be read raises ExtractionError with a short reason
that is safe to show: corrupt, encrypted, empty (no text layer), unsupported or too large.
"""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from backend.drafting.html_text import html_to_text

MEDIA_TYPES = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".html": "text/html", ".htm": "text/html",
    ".md": "text/markdown", ".markdown": "text/markdown",
    ".txt": "text/plain", ".text": "text/plain",
}
# An OLE compound file: what Office writes for a password-protected .docx.
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MAX_DOCX_XML = 200 * 1024 * 1024  # a zip bomb stops here
_WS = re.compile(r"[ \t\r\f\v]+")
_MD_MARKUP = re.compile(r"^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+\[[ xX]\]\s+)|(?<!\w)[*_]{1,3}(?=\w)"
                        r"|(?<=\w)[*_]{1,3}(?!\w)|`{1,3}", re.MULTILINE)
_MD_LINK = re.compile(r"!?\[([^\]\n]*)\]\(([^)\s]*)[^)]*\)")


class ExtractionError(Exception):
    """A file that is skipped; `kind` is corrupt | encrypted | empty | unsupported | too_large."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class Extracted:
    """A document's text, one string per page (page 1 first); `paged` is False for formats
    without real page numbers."""

    media_type: str
    pages: tuple[str, ...]
    paged: bool


def media_type_for(name: str) -> str | None:
    """The media type Replywise reads a file name as, or None when it does not read it."""
    return MEDIA_TYPES.get(Path(name).suffix.lower())


def extract(data: bytes, name: str) -> Extracted:
    """The text of a file's bytes, chosen by its name's extension."""
    media_type = media_type_for(name)
    if media_type is None:
        raise ExtractionError("unsupported", f"not a supported file type ({Path(name).suffix})")
    if not data.strip():
        raise ExtractionError("empty", "the file is empty")
    if media_type == "application/pdf":
        pages, paged = _pdf(data), True
    elif media_type.endswith("wordprocessingml.document"):
        pages, paged = _docx(data), True
    else:
        text = _decode(data)
        if media_type == "text/html":
            text = html_to_text(text)
        elif media_type == "text/markdown":
            text = _markdown(text)
        pages, paged = (text,), False
    pages = tuple(_tidy(p) for p in pages)
    if not any(pages):
        raise ExtractionError("empty", "no text found (a scanned document without a text "
                                       "layer?)" if media_type == "application/pdf" else
                              "no text found")
    return Extracted(media_type, pages, paged)


def _pdf(data: bytes) -> tuple[str, ...]:
    import pypdfium2 as pdfium  # imported here: only ingest workers need PDFium loaded

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise ExtractionError("encrypted", "the PDF is password-protected") from None
        raise ExtractionError("corrupt", "PDFium cannot read this PDF") from None
    pages = []
    try:
        for index in range(len(document)):
            page = document[index]
            try:
                textpage = page.get_textpage()
                try:
                    pages.append(textpage.get_text_range())
                finally:
                    textpage.close()
            except pdfium.PdfiumError:
                pages.append("")  # one unreadable page must not lose the rest
            finally:
                page.close()
    finally:
        document.close()
    return tuple(pages)


def _docx(data: bytes) -> tuple[str, ...]:
    if data.startswith(_OLE_MAGIC):
        raise ExtractionError("encrypted", "the document is password-protected")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo("word/document.xml")
            if info.file_size > _MAX_DOCX_XML:
                raise ExtractionError("too_large", "word/document.xml is too large")
            xml = archive.read(info)
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, zipfile.LargeZipFile):
        raise ExtractionError("corrupt", "not a readable .docx") from None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError:
        raise ExtractionError("corrupt", "word/document.xml is not well-formed") from None
    pages: list[list[str]] = [[]]
    for paragraph in root.iter(f"{_W}p"):
        parts: list[str] = []
        for node in paragraph.iter(f"{_W}t", f"{_W}tab", f"{_W}br", f"{_W}lastRenderedPageBreak"):
            if node.tag == f"{_W}t":
                parts.append(node.text or "")
            elif node.tag == f"{_W}tab":
                parts.append("\t")
            elif node.tag == f"{_W}br" and node.get(f"{_W}type") != "page":
                parts.append("\n")
            else:
                # Word records where it broke pages when it last laid the document out.
                # An explicit break is usually followed by Word's marker: count the page once.
                if parts:
                    pages[-1].append("".join(parts))
                    parts = []
                if any(line.strip() for line in pages[-1]):
                    pages.append([])
        pages[-1].append("".join(parts))
    return tuple("\n".join(lines) for lines in pages)


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _markdown(text: str) -> str:
    text = _MD_LINK.sub(lambda m: m.group(1) or m.group(2), text)
    return _MD_MARKUP.sub("", text)


def _tidy(text: str) -> str:
    lines = (_WS.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n"))
    return "\n".join(line for line in lines if line).replace("\x00", "")
