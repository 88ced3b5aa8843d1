"""Retrieval returns only passages of documents the reader may read, filtered inside SQL."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from backend.governance.identity import Principal
from backend.knowledge import index
from backend.services import grounding, knowledge
from backend.storage.models.knowledge import KbDocument
from tests.knowledge.conftest import MERGER_FACT, PRICE_FACT
from tests.knowledge.kb_support import write_pdf


def _folder(tmp_path: Path, name: str, pages: list[str]) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    write_pdf(folder / f"{name}.pdf", pages)
    return folder


def _reader(user_id: str = "u1", subject: str = "sam", groups=(), tenant: str = "acme"):
    return Principal(idp="local", tenant_id=tenant, subject=subject, user_id=user_id,
                     groups=frozenset(groups))


def test_group_and_user_grants_decide_who_reads_what(rt, operator, tmp_path):
    knowledge.ingest_path(rt, operator, _folder(tmp_path, "prices", [PRICE_FACT]),
                          groups=["sales"])
    knowledge.ingest_path(rt, operator, _folder(tmp_path, "board", [MERGER_FACT]),
                          users=["cfo-subject"])
    query = "Zephyr X200 price and the Orbital Freight acquisition"
    assert {h.document for h in grounding.search(rt, _reader(groups=["sales"]), query)} == {
        "prices.pdf"}
    assert {h.document for h in grounding.search(rt, _reader(subject="cfo-subject"), query)} == {
        "board.pdf"}
    assert grounding.search(rt, _reader(groups=["support"]), query) == []


def test_everyone_group_reaches_the_whole_tenant_but_not_other_tenants(rt, operator, tmp_path):
    knowledge.ingest_path(rt, operator, _folder(tmp_path, "prices", [PRICE_FACT]),
                          groups=["everyone"])
    assert grounding.search(rt, _reader(), "Zephyr X200 price")
    assert grounding.search(rt, _reader(tenant="globex"), "Zephyr X200 price") == []


def test_groups_kept_in_the_database_count_like_token_groups(rt, operator, tmp_path):
    from backend.services import accounts
    knowledge.ingest_path(rt, operator, _folder(tmp_path, "prices", [PRICE_FACT]),
                          groups=["sales"])
    person = accounts.resolve(rt, Principal(idp="local", tenant_id="acme", subject="dana"))
    assert grounding.search(rt, person, "Zephyr X200 price") == []
    knowledge.set_group(rt, operator, person.user_id, "sales", True)
    assert grounding.search(rt, person, "Zephyr X200 price")
    knowledge.set_group(rt, operator, person.user_id, "sales", False)
    assert grounding.search(rt, person, "Zephyr X200 price") == []


def test_the_filter_runs_before_top_k_so_forbidden_best_matches_do_not_crowd_out(
        rt, operator, tmp_path):
    # Many forbidden passages match the query far better than the one permitted passage. A
    # post-filter on the top results would return nothing; the SQL filter returns the permitted
    # passage, and the statement itself carries the filter.
    secret = [f"Zephyr X200 price Zephyr X200 price secret margin sheet {i}" for i in range(30)]
    knowledge.ingest_path(rt, operator, _folder(tmp_path, "margins", secret), groups=["finance"])
    knowledge.ingest_path(rt, operator, _folder(tmp_path, "prices", [PRICE_FACT]),
                          groups=["sales"])
    hits = grounding.search(rt, _reader(groups=["sales"]), "Zephyr X200 price", limit=1)
    assert [h.document for h in hits] == ["prices.pdf"]
    with rt.db.session("acme") as session:
        reader = grounding.reader_for(session, _reader(groups=["sales"]))
        statements = []
        from sqlalchemy import event
        engine = session.get_bind()

        def capture(conn, cursor, statement, *args):
            statements.append(statement)
        event.listen(engine, "before_cursor_execute", capture)
        try:
            index.search(session, reader, ["zephyr", "price"], limit=1)
        finally:
            event.remove(engine, "before_cursor_execute", capture)
    final = statements[-1]
    assert "kb_access" in final and "LIMIT" in final.upper()


def test_ranking_prefers_the_passage_about_the_question(rt, operator, tmp_path):
    pages = ["Our offices are closed on public holidays.",
             "Warranty: the Zephyr X200 carries a three-year warranty on parts and labour.",
             "Parking is available behind the building."]
    knowledge.ingest_path(rt, operator, _folder(tmp_path, "manual", pages), groups=["staff"])
    hits = grounding.search(rt, _reader(groups=["staff"]),
                            "Hello, how long is the warranty on the Zephyr X200?")
    assert hits[0].page == 2
    assert grounding.search(rt, _reader(groups=["staff"]), "Thanks, best regards") == []


def test_chunk_ids_carry_their_document(rt, operator, tmp_path):
    knowledge.ingest_path(rt, operator, _folder(tmp_path, "manual", ["alpha gamma", "delta omega"]),
                          groups=["staff"])
    with rt.db.session("acme") as session:
        document_id = session.scalars(select(KbDocument.id)).one()
    first, last = index.chunk_range(document_id)
    hits = grounding.search(rt, _reader(groups=["staff"]), "gamma delta")
    assert len(hits) == 2 and all(first <= h.chunk_id <= last for h in hits)


def test_object_ids_are_stored_in_lower_case_and_old_upper_case_memberships_still_count(
        rt, operator, tmp_path):
    from backend.services import accounts
    from backend.storage.models.knowledge import UserGroup
    group = "5B0E6A1C-2D3F-4A5B-8C6D-7E8F9A0B1C2D"
    knowledge.ingest_path(rt, operator, _folder(tmp_path, "prices", [PRICE_FACT]), groups=[group])
    assert knowledge.list_documents(rt, operator)[0]["groups"] == [group.lower()]
    person = accounts.resolve(rt, Principal(idp="local", tenant_id="acme", subject="dana"))
    # A membership written before ids were made lower case, as it was typed.
    with rt.db.session("acme") as session:
        session.add(UserGroup(tenant_id="acme", user_id=person.user_id, group_name=group))
    assert grounding.search(rt, person, "Zephyr X200 price")
    # Taking the user out by the id as typed removes the old row too.
    assert knowledge.set_group(rt, operator, person.user_id, group, False) == []
    assert grounding.search(rt, person, "Zephyr X200 price") == []
    assert knowledge.set_group(rt, operator, person.user_id, group, True) == [group.lower()]
    assert grounding.search(rt, person, "Zephyr X200 price")
