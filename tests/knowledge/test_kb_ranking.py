"""Ranking on both databases: tiered search finds what scoring every clause would find, only
among readable documents, and answers when no passage holds all the words."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from backend.governance.identity import Principal
from backend.knowledge import index
from backend.knowledge.ranking import Clause
from backend.services import grounding, knowledge
from tests.knowledge.kb_support import write_pdf

# Invented words: every stemmer leaves them alone, so a page holds a clause iff it has the word.
RARE, MIDDLING, COMMON = (Clause(("zorbex",), 10.0), Clause(("quillon",), 4.0),
                          Clause(("marvix",), 3.0))
PLAN = [COMMON, RARE, MIDDLING]
OPEN_PAGES = ["zorbex quillon marvix", "zorbex alone here", "quillon and marvix",
              "quillon only", "marvix only", "quillon again", "nothing relevant"]
# The forbidden document holds the best passages of all: they must neither appear nor push out.
CLOSED_PAGES = ["zorbex quillon marvix secret"] * 3


def _ingest(rt, operator, tmp_path: Path, name: str, pages: list[str], group: str) -> None:
    folder = tmp_path / name
    folder.mkdir()
    write_pdf(folder / f"{name}.pdf", pages)
    knowledge.ingest_path(rt, operator, folder, groups=[group])


def _score(page_text: str) -> float:
    words = set(page_text.split())
    return sum(c.weight for c in PLAN if set(c.words) <= words)


@pytest.fixture
def staff_reader(rt, operator, tmp_path):
    _ingest(rt, operator, tmp_path, "open", OPEN_PAGES, "staff")
    _ingest(rt, operator, tmp_path, "closed", CLOSED_PAGES, "finance")
    return Principal(idp="local", tenant_id="acme", subject="sam", user_id="u1",
                     groups=frozenset({"staff"}))


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 6, 10])
def test_tiered_search_returns_the_passages_scoring_every_clause_would(rt, staff_reader, limit):
    expected = sorted(((_score(t), page) for page, t in enumerate(OPEN_PAGES, start=1)
                       if _score(t) > 0), key=lambda sp: (-sp[0], sp[1]))[:limit]
    with rt.db.session("acme") as session:
        reader = grounding.reader_for(session, staff_reader)
        hits = index.best_passages(session, reader, PLAN, limit)
    assert {h.document for h in hits} == {"open.pdf"}
    assert [(h.score, h.page) for h in hits] == expected  # whole-number weights: exact sums


def test_a_rare_word_found_only_where_the_reader_may_not_look_does_not_hide_the_rest(
        rt, operator, tmp_path):
    # Every passage holding all the words (and the only ones with the rarest) is forbidden; the
    # readable passages with some of the words are the answer, best first.
    _ingest(rt, operator, tmp_path, "closed", CLOSED_PAGES, "finance")
    _ingest(rt, operator, tmp_path, "open", OPEN_PAGES[2:], "staff")
    reader = Principal(idp="local", tenant_id="acme", subject="sam", user_id="u1",
                       groups=frozenset({"staff"}))
    with rt.db.session("acme") as session:
        hits = index.best_passages(session, grounding.reader_for(session, reader), PLAN, 4)
    assert [(h.document, h.score) for h in hits] == [("open.pdf", 7.0), ("open.pdf", 4.0),
                                                     ("open.pdf", 4.0), ("open.pdf", 3.0)]
    found = grounding.search(rt, reader, "Any news on zorbex, quillon or marvix?")
    assert found and {h.document for h in found} == {"open.pdf"}
    outsider = Principal(idp="local", tenant_id="acme", subject="kim", user_id="u2",
                         groups=frozenset({"sales"}))
    assert grounding.search(rt, outsider, "zorbex quillon marvix") == []


def test_postgres_keeps_the_gin_pending_list_short(postgres_url):
    # Every index probe reads GIN's whole pending list; migration 0006 bounds it to 512 kB.
    engine = create_engine("postgresql+psycopg://" + postgres_url.split("://", 1)[1])
    try:
        with engine.connect() as conn:
            options = conn.execute(text("SELECT reloptions FROM pg_class "
                                        "WHERE relname = 'ix_kb_chunks_tsv'")).scalar()
    finally:
        engine.dispose()
    assert "gin_pending_list_limit=512" in options
