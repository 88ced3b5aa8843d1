"""Tenants without a knowledge base cost drafts no knowledge query; new documents show at once."""
from __future__ import annotations

import time

from sqlalchemy import event, insert

from backend.services import accounts, knowledge, knowledge_presence
from backend.storage.models import utcnow
from backend.storage.models.knowledge import KbDocument
from tests.conftest import local_headers
from tests.knowledge.conftest import PRICE_FACT
from tests.knowledge.kb_support import write_pdf
from tests.knowledge.test_kb_grounded_drafts import ADMIN, _draft


def _statements(rt):
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(rt.db.engine, "before_cursor_execute", record)
    return seen, lambda: event.remove(rt.db.engine, "before_cursor_execute", record)


def test_a_tenant_without_documents_is_asked_once_then_remembered(app, rt):
    client = app.test_client()
    headers = local_headers("empty-kb", "sam")
    _draft(client, headers, "Hi,\n\nWhat does the Zephyr X200 cost?\n\nJane")
    seen, stop = _statements(rt)
    try:
        _draft(client, headers, "Hi,\n\nAnd the Zephyr X300?\n\nJane")
    finally:
        stop()
    assert not [s for s in seen if "kb_" in s], seen
    assert any("INSERT INTO drafts" in s for s in seen)


def test_documents_ingested_in_this_process_ground_the_very_next_draft(app, rt, tmp_path):
    client = app.test_client()
    headers = local_headers("acme", "sam")
    before = _draft(client, headers, "Hi,\n\nWhat does the Zephyr X200 cost per unit?\n\nJane")
    assert before["sources"] == []
    folder = tmp_path / "prices"
    folder.mkdir()
    write_pdf(folder / "price-list.pdf", ["Price list 2024\n" + PRICE_FACT])
    knowledge.ingest_path(rt, ADMIN, folder, groups=["everyone"])
    after = _draft(client, headers, "Hi,\n\nWhat does the Zephyr X200 cost per unit?\n\nJane")
    assert [s["document"] for s in after["sources"]] == ["price-list.pdf"]


def test_documents_written_elsewhere_show_once_the_remembered_no_expires(app, rt, monkeypatch):
    monkeypatch.setattr(knowledge_presence, "ABSENT_TTL_S", 0.2)
    assert knowledge_presence.has_documents(rt, "acme") is False
    # Another instance or a queue worker on another machine writes the document.
    with rt.db.session("acme") as session:
        accounts.ensure_tenant(session, "acme")
        session.execute(insert(KbDocument).values(
            tenant_id="acme", source="elsewhere:a.txt", name="a.txt", media_type="text/plain",
            content_hash="0" * 64, size_bytes=1, pages=1, chunks=0, created_at=utcnow(),
            updated_at=utcnow()))
    assert knowledge_presence.has_documents(rt, "acme") is False  # still remembered
    time.sleep(0.25)
    assert knowledge_presence.has_documents(rt, "acme") is True

