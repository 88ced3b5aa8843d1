"""Fixtures for knowledge-base tests: an operator principal and a small document folder."""
from __future__ import annotations

from pathlib import Path

import pytest

from backend.governance.identity import Principal
from tests.knowledge.kb_support import write_docx, write_pdf

PRICE_FACT = "The Zephyr X200 costs 1,450 EUR per unit including the standard warranty."
MERGER_FACT = "Project Nightjar: the board approved the acquisition of Orbital Freight for 80 million."


@pytest.fixture
def operator() -> Principal:
    """A tenant_admin acting from the CLI on tenant 'acme'."""
    return Principal(idp="cli", tenant_id="acme", subject="operator",
                     roles=frozenset({"tenant_admin"}))


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A folder with a price list (2 pages), a handbook (.docx), a FAQ (.md) and an HTML page."""
    folder = tmp_path / "docs"
    folder.mkdir()
    write_pdf(folder / "price-list.pdf", ["Price list 2024\n" + PRICE_FACT,
                                          "Delivery to EU addresses takes 5 working days."])
    write_docx(folder / "handbook.docx", ["Holiday policy", "Staff get 28 days of paid leave."],
               page_break_before={1})
    (folder / "faq.md").write_text("# Returns\n\nReturns are accepted within **30 days**.\n")
    (folder / "about.html").write_text("<html><body><h1>About us</h1><p>Founded in 1999 in "
                                       "Leeds.</p><script>var x=1;</script></body></html>")
    return folder
