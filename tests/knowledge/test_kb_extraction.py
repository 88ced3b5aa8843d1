"""Text extraction per format, page numbers, and files that must be skipped with a reason."""
from __future__ import annotations

import io
import zipfile

import pytest

from backend.knowledge.chunking import MAX_TOKENS, chunk_pages, split_text
from backend.knowledge.extract import ExtractionError, extract
from backend.knowledge.ingest import process_bytes
from backend.drafting.tokens import estimate_tokens
from tests.knowledge.kb_support import docx_bytes, pdf_bytes


def test_pdf_text_is_extracted_page_by_page():
    result = extract(pdf_bytes(["First page (intro)", "", "Third page text"]), "Manual.PDF")
    assert result.media_type == "application/pdf"
    assert result.pages == ("First page (intro)", "", "Third page text")
    chunks = chunk_pages(result.pages, paged=result.paged)
    assert [(c.page, c.text) for c in chunks] == [(1, "First page (intro)"),
                                                  (3, "Third page text")]


def test_docx_paragraphs_follow_its_page_breaks():
    result = extract(docx_bytes(["Title", "Intro & terms", "Annex <A>"],
                                page_break_before={2}), "policy.docx")
    assert result.pages == ("Title\nIntro & terms", "Annex <A>")


def test_html_loses_markup_and_scripts():
    result = extract(b"<html><body><h1>Returns</h1><p>Within 30 days.</p>"
                     b"<script>alert(1)</script></body></html>", "faq.html")
    assert result.pages == ("Returns\nWithin 30 days.",)
    assert not result.paged


def test_markdown_keeps_text_and_link_labels_without_markup():
    result = extract(b"# Title\n\nSee **bold** and [the terms](https://x.example/t).", "a.md")
    assert result.pages == ("Title\nSee bold and the terms.",)


def test_plain_text_in_legacy_encoding_is_read():
    assert extract("Café menu".encode("cp1252"), "menu.txt").pages == ("Café menu",)


@pytest.mark.parametrize("data,name,kind", [
    (pdf_bytes(["secret"], encrypted=True), "locked.pdf", "encrypted"),
    (b"%PDF-1.4 this is not really a PDF", "broken.pdf", "corrupt"),
    (pdf_bytes([""]), "scan.pdf", "empty"),
    (b"", "empty.txt", "empty"),
    (b"   \n  ", "blank.md", "empty"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "locked.docx", "encrypted"),
    (b"PK\x03\x04 not a zip at all", "broken.docx", "corrupt"),
    (b"data", "program.exe", "unsupported"),
])
def test_unreadable_files_raise_with_a_reason(data, name, kind):
    with pytest.raises(ExtractionError) as caught:
        extract(data, name)
    assert caught.value.kind == kind


def test_docx_without_its_document_part_is_corrupt():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/other.xml", "<x/>")
    with pytest.raises(ExtractionError) as caught:
        extract(buffer.getvalue(), "odd.docx")
    assert caught.value.kind == "corrupt"


def test_processing_skips_unchanged_bytes_without_extracting():
    data = pdf_bytes(["Some text"])
    first = process_bytes(data, "a.pdf", "a.pdf")
    again = process_bytes(data, "a.pdf", "a.pdf", known_hash=first.content_hash)
    assert first.status == "extracted" and first.chunks
    assert again.status == "unchanged" and again.chunks == []


def test_long_pages_become_overlapping_windows_within_the_token_limit():
    sentences = [f"Clause {i} says the supplier ships order {i} within {i % 9 + 1} days."
                 for i in range(200)]
    windows = split_text(" ".join(sentences))
    assert len(windows) > 3
    assert all(estimate_tokens(w) <= MAX_TOKENS for w in windows)
    # Every sentence survives, and consecutive windows share a sentence (the overlap).
    assert all(any(s in w for w in windows) for s in sentences)
    assert windows[0].split(". ")[-1] in windows[1]
