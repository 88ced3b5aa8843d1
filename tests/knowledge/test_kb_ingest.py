"""Ingesting folders: new, unchanged, changed and removed files; bad files reported; the CLI."""
from __future__ import annotations

import json

import pytest

from backend.governance.identity import Principal
from backend.services import grounding, knowledge
from tests.knowledge.conftest import PRICE_FACT
from tests.knowledge.kb_support import pdf_bytes, write_pdf


def _reader(tenant: str = "acme") -> Principal:
    return Principal(idp="local", tenant_id=tenant, subject="reader", user_id="u-reader",
                     groups=frozenset({"staff"}))


def test_a_folder_is_ingested_with_names_and_pages(rt, operator, docs):
    report = knowledge.ingest_path(rt, operator, docs, groups=["staff"])
    assert (report.added, report.skipped, report.files) == (4, [], 4)
    listed = {d["name"]: d for d in knowledge.list_documents(rt, operator)}
    assert set(listed) == {"price-list.pdf", "handbook.docx", "faq.md", "about.html"}
    assert listed["price-list.pdf"]["pages"] == 2 and listed["price-list.pdf"]["groups"] == ["staff"]
    hits = grounding.search(rt, _reader(), "How long does delivery to the EU take?")
    assert (hits[0].document, hits[0].page) == ("price-list.pdf", 2)


def test_corrupt_encrypted_and_empty_files_are_reported_and_the_rest_goes_on(rt, operator, docs):
    write_pdf(docs / "locked.pdf", ["secret"], encrypted=True)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7 garbage")
    (docs / "empty.txt").write_bytes(b"")
    report = knowledge.ingest_path(rt, operator, docs, groups=["staff"])
    assert report.added == 4
    assert sorted((s["file"].rsplit("/", 1)[-1], s["reason"]) for s in report.skipped) == [
        ("broken.pdf", "corrupt"), ("empty.txt", "empty"), ("locked.pdf", "encrypted")]


def test_reingest_skips_unchanged_replaces_changed_and_sync_removes_gone(rt, operator, docs):
    knowledge.ingest_path(rt, operator, docs, groups=["staff"])
    again = knowledge.ingest_path(rt, operator, docs, groups=["staff"])
    assert (again.added, again.replaced, again.unchanged, again.chunks) == (0, 0, 4, 0)

    write_pdf(docs / "price-list.pdf", ["Price list 2025\nThe Zephyr X200 now costs 1,590 EUR."])
    (docs / "faq.md").unlink()
    changed = knowledge.ingest_path(rt, operator, docs, groups=["staff"])
    assert (changed.replaced, changed.unchanged, changed.removed) == (1, 2, 0)
    texts = [h.text for h in grounding.search(rt, _reader(), "Zephyr X200 price", limit=10)]
    assert any("1,590" in t for t in texts) and not any(PRICE_FACT in t for t in texts)
    assert "faq.md" in {d["name"] for d in knowledge.list_documents(rt, operator)}

    synced = knowledge.ingest_path(rt, operator, docs, groups=["staff"], sync=True)
    assert synced.removed == 1
    assert "faq.md" not in {d["name"] for d in knowledge.list_documents(rt, operator)}
    assert grounding.search(rt, _reader(), "returns accepted within 30 days") == [] or all(
        h.document != "faq.md" for h in grounding.search(rt, _reader(), "returns accepted"))


def test_sync_only_removes_documents_under_the_ingested_folder(rt, operator, docs, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    write_pdf(other / "keep.pdf", ["Keep me"])
    knowledge.ingest_path(rt, operator, other, groups=["staff"])
    knowledge.ingest_path(rt, operator, docs, groups=["staff"], sync=True)
    assert "keep.pdf" in {d["name"] for d in knowledge.list_documents(rt, operator)}


def test_changing_only_who_may_read_updates_access_without_reextracting(rt, operator, docs):
    knowledge.ingest_path(rt, operator, docs, groups=["staff"])
    report = knowledge.ingest_path(rt, operator, docs, groups=["sales"], users=["bob"])
    assert (report.unchanged, report.chunks) == (4, 0)
    assert all(d["groups"] == ["sales"] and d["users"] == ["bob"]
               for d in knowledge.list_documents(rt, operator))


def test_ingest_needs_someone_allowed_to_read(rt, operator, docs):
    from backend.errors import InvalidField
    with pytest.raises(InvalidField):
        knowledge.ingest_path(rt, operator, docs)


def test_ingest_is_refused_without_kb_manage(rt, docs):
    from backend.governance.rbac import PermissionDenied
    drafter = Principal(idp="local", tenant_id="acme", subject="d", roles=frozenset({"drafter"}))
    with pytest.raises(PermissionDenied):
        knowledge.ingest_path(rt, drafter, docs, groups=["staff"])


def test_cli_ingest_shows_progress_then_list_search_and_remove(run_cli, docs):
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7 garbage")
    result = run_cli("kb", "ingest", str(docs), "--groups", "staff,sales", "--local")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["added"] == 4 and report["skipped"][0]["reason"] == "corrupt"
    assert "5/5 files" in result.stderr and "pages/s" in result.stderr and "ETA" in result.stderr
    assert "skipped" in result.stderr and "broken.pdf" in result.stderr

    listed = json.loads(run_cli("kb", "list").stdout)
    assert sorted(d["groups"] for d in listed)[0] == ["sales", "staff"]
    assert run_cli("users", "grant", "local-user", "drafter").exit_code == 0  # creates the user
    before = json.loads(run_cli("kb", "search", "Zephyr X200 price", "--as", "local-user").stdout)
    assert before == []  # not in staff or sales yet
    assert run_cli("kb", "group", "add", "local-user", "staff").exit_code == 0
    hits = json.loads(run_cli("kb", "search", "Zephyr X200 price", "--as", "local-user").stdout)
    assert hits[0]["document"] == "price-list.pdf" and hits[0]["page"] == 1
    price = next(d for d in listed if d["name"] == "price-list.pdf")
    assert run_cli("kb", "remove", price["id"]).exit_code == 0
    assert "price-list.pdf" not in {d["name"] for d in json.loads(run_cli("kb", "list").stdout)}


def test_upload_bytes_replace_by_name_and_identical_bytes_are_unchanged(rt, operator):
    first = knowledge.ingest_upload(rt, operator, "terms.pdf", pdf_bytes(["Net 30 terms"]),
                                    groups=["everyone"])
    same = knowledge.ingest_upload(rt, operator, "terms.pdf", pdf_bytes(["Net 30 terms"]),
                                   groups=["everyone"])
    new = knowledge.ingest_upload(rt, operator, "terms.pdf", pdf_bytes(["Net 45 terms"]),
                                  groups=["everyone"])
    assert [first["status"], same["status"], new["status"]] == ["added", "unchanged", "replaced"]
    assert first["document_id"] == same["document_id"] == new["document_id"]
