"""Hybrid retrieval with pgvector: passage vectors made at ingest, nearest-neighbour search in
SQL with the permission filter inside, fused with lexical search; every failure falls back."""
from __future__ import annotations

import json
import math
import uuid

import pytest
from sqlalchemy import create_engine, select, text

from backend.drafting.model import DraftOptions
from backend.governance.identity import Principal
from backend.governance.rbac import PermissionDenied
from backend.governance.pii import Redactor
from backend.knowledge import vectors
from backend.services import grounding, knowledge, knowledge_vectors
from backend.storage import migrate
from backend.storage.models.audit import AuditEvent
from tests.conftest import POSTGRES_ADMIN_URL, _psycopg_url, local_headers
from tests.fakes import fake_embeddings
from tests.fakes.openai_server import Behaviour
from tests.knowledge.kb_support import write_pdf
from tests.web.drafting_support import fake_provider

on_postgresql = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
on_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

ADMIN = Principal(idp="cli", tenant_id="acme", subject="operator",
                  roles=frozenset({"tenant_admin"}))
SAM = Principal(idp="local", tenant_id="acme", subject="sam", user_id="u-sam",
                groups=frozenset({"sales"}))
TRAVEL = ("Travel policy 2024: staff claim reimbursement of rail and airfare costs within "
          "30 days. Questions: anna.berg@acme-example.com")
DELIVERY = "Delivery terms: parcels leave the warehouse within 2 working days."
BOARD = ("Board minutes: reimbursement of the Orbital Freight airfare and rail costs, "
         "approved for 80 million.")
# No word of this question is in the travel policy; its meaning is (fake_embeddings.py).
QUESTION = "How do I get my money back for the train?"
MODEL = "fake-embed"


def _app(make_app, openai_server, **changes):
    settings = {"providers": (fake_provider(openai_server),), "kb_embedding_model": MODEL,
                "kb_passages": 2} | changes
    app = make_app(**settings)
    return app, app.extensions["replywise"]


def _ingest(rt, tmp_path, name: str, pages: list[str], groups=("sales",)):
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    write_pdf(folder / f"{name}.pdf", pages)
    return knowledge.ingest_path(rt, ADMIN, folder, groups=list(groups))


def _embedding_inputs(openai_server) -> list[str]:
    return [t for r in openai_server.requests if r.path == "/v1/embeddings"
            for t in r.body["input"]]


def _vector_rows(rt) -> list[tuple[int, str, int]]:
    with rt.db.session(read_only=True) as session:
        return [tuple(r) for r in session.execute(text(
            "SELECT chunk_id, model, dims FROM kb_vectors ORDER BY chunk_id"))]


@on_postgresql
def test_ingest_gives_every_passage_a_redacted_vector_and_an_index(make_app, openai_server,
                                                                    tmp_path):
    _, rt = _app(make_app, openai_server)
    report = _ingest(rt, tmp_path, "travel", [TRAVEL, DELIVERY])
    assert report.chunks == 2 and report.embedded == 2 and report.embedding_error is None
    rows = _vector_rows(rt)
    assert [(m, d) for _, m, d in rows] == [(MODEL, fake_embeddings.DIMENSIONS)] * 2
    inputs = _embedding_inputs(openai_server)
    assert len(inputs) == 2 and any("reimbursement" in t for t in inputs)
    assert not any("anna.berg@acme-example.com" in t for t in inputs)  # redacted first
    with rt.db.session(read_only=True) as session:
        assert session.execute(text("SELECT to_regclass('ix_kb_vectors_hnsw_64')")).scalar()
    assert knowledge_vectors.stats(rt, "acme") == {"model": MODEL, "stored": True,
                                                   "passages_with_vectors": 2, "passages": 2}


@on_postgresql
def test_a_draft_is_grounded_in_a_passage_that_matches_in_meaning_only(make_app, openai_server,
                                                                         tmp_path):
    app, rt = _app(make_app, openai_server)
    _ingest(rt, tmp_path, "travel", [TRAVEL, DELIVERY])
    assert grounding.search(rt, SAM, QUESTION, 4) == []  # lexical search alone finds nothing
    client = app.test_client()
    headers = local_headers("acme", "sam")
    user_id = client.get("/api/v1/me", headers=headers).get_json()["user_id"]
    knowledge.set_group(rt, ADMIN, user_id, "sales", True)
    response = client.post("/api/v1/drafts", headers=headers, json={
        "message": {"subject": "Expenses", "from": "Jo <jo@acme-example.com>",
                    "body_text": QUESTION}})
    assert response.status_code == 200, response.get_json()
    sources = response.get_json()["sources"]
    assert [(s["document"], s["page"]) for s in sources][:1] == [("travel.pdf", 1)]
    chat = [r for r in openai_server.requests if r.path == "/v1/chat/completions"][-1]
    assert "reimbursement of rail and airfare" in json.dumps(chat.body["messages"])


@on_postgresql
def test_the_nearest_passages_never_include_one_the_reader_may_not_read(make_app, openai_server,
                                                                         tmp_path):
    _, rt = _app(make_app, openai_server)
    _ingest(rt, tmp_path, "travel", [TRAVEL])
    _ingest(rt, tmp_path, "board-minutes", [BOARD], groups=("board",))
    # The query is the board passage itself: its vector is the closest there can be.
    with rt.db.session("acme", read_only=True) as session:
        reader = grounding.reader_for(session, SAM)
        hits = vectors.nearest(session, reader, MODEL, fake_embeddings.embed(BOARD), 10)
    assert [h.document for h in hits] == ["travel.pdf"]
    _, _, shown = grounding.sources_for(rt, SAM, "board-minutes.pdf",
                                        "Quote board-minutes.pdf: the Orbital Freight airfare "
                                        "reimbursement", DraftOptions(), Redactor())
    assert {s.document for s in shown} == {"travel.pdf"}


@on_postgresql
def test_a_failed_embedding_run_keeps_the_documents_and_kb_embed_finishes_it(
        make_app, openai_server, tmp_path):
    _, rt = _app(make_app, openai_server)
    openai_server.set_default(Behaviour.error(500))
    report = _ingest(rt, tmp_path, "travel", [TRAVEL, DELIVERY])
    openai_server.reset()
    assert report.chunks == 2 and report.embedded == 0
    assert "InternalServerError" in (report.embedding_error or "")
    assert _vector_rows(rt) == []
    assert [h.document for h in grounding.search(rt, SAM, "reimbursement", 4)] == ["travel.pdf"]

    done = knowledge_vectors.embed_missing(rt, ADMIN)
    assert (done.embedded, done.error) == (2, None)
    assert len(_vector_rows(rt)) == 2
    assert knowledge_vectors.embed_missing(rt, ADMIN).embedded == 0  # nothing left to do
    with rt.db.session("acme", read_only=True) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "kb.embed")
                                 .order_by(AuditEvent.seq)).all()
        assert [e.details["embedded"] for e in events] == [2, 0]


@on_postgresql
def test_replacing_or_removing_a_document_takes_its_vectors_along(make_app, openai_server,
                                                                  tmp_path):
    _, rt = _app(make_app, openai_server)
    _ingest(rt, tmp_path, "travel", [TRAVEL, DELIVERY])
    before = {c for c, _, _ in _vector_rows(rt)}
    _ingest(rt, tmp_path, "travel", [TRAVEL])  # the file changed: one page now
    after = {c for c, _, _ in _vector_rows(rt)}
    assert len(after) == 1 and after <= before
    (document,) = knowledge.list_documents(rt, ADMIN)
    knowledge.remove_document(rt, ADMIN, document["id"])
    assert _vector_rows(rt) == []


@on_postgresql
def test_a_new_embedding_model_re_embeds_every_passage(make_app, openai_server, tmp_path):
    _, rt = _app(make_app, openai_server)
    _ingest(rt, tmp_path, "travel", [TRAVEL, DELIVERY])
    _, rt2 = _app(make_app, openai_server, kb_embedding_model="fake-embed-2")
    assert knowledge_vectors.embed_missing(rt2, ADMIN).embedded == 2
    assert {m for _, m, _ in _vector_rows(rt2)} == {"fake-embed-2"}


@on_postgresql
def test_configured_dimensions_are_asked_for_and_get_their_own_index(make_app, openai_server,
                                                                     tmp_path):
    _, rt = _app(make_app, openai_server, kb_embedding_dimensions=16)
    assert _ingest(rt, tmp_path, "travel", [TRAVEL]).embedded == 1
    (request,) = [r for r in openai_server.requests if r.path == "/v1/embeddings"]
    assert request.body["dimensions"] == 16
    assert [d for _, _, d in _vector_rows(rt)] == [16]
    with rt.db.session(read_only=True) as session:
        assert session.execute(text("SELECT to_regclass('ix_kb_vectors_hnsw_16')")).scalar()
    assert [h.document for h in grounding.candidates(
        rt, SAM, QUESTION, 4, vector=fake_embeddings.embed(QUESTION, 16))[1]] == ["travel.pdf"]


@on_postgresql
def test_passages_the_policy_blocks_get_no_vector_and_are_never_sent(make_app, openai_server,
                                                                     tmp_path):
    from backend.services import tenants
    _, rt = _app(make_app, openai_server)
    tenants.write_policy(rt, ADMIN, {"pii": {"actions": {"CARD": "block"}}})
    card = "Company card for travel: 4111 1111 1111 1111, expires 12/29."
    report = _ingest(rt, tmp_path, "travel", [TRAVEL, card])
    assert report.embedded == 1
    assert not any("4111" in t for t in _embedding_inputs(openai_server))
    assert knowledge_vectors.embed_missing(rt, ADMIN).withheld == 1


@on_postgresql
def test_when_the_query_cannot_be_embedded_the_draft_is_grounded_lexically(
        make_app, openai_server, tmp_path):
    _, rt = _app(make_app, openai_server)
    _ingest(rt, tmp_path, "travel", [TRAVEL, DELIVERY])
    openai_server.script(Behaviour.error(400))
    _, _, shown = grounding.sources_for(rt, SAM, "Delivery", "When do parcels leave?",
                                        DraftOptions(), Redactor())
    assert [s.document for s in shown] == ["travel.pdf"] and shown[0].page == 2


@on_postgresql
def test_until_the_index_is_built_drafts_re_rank_instead_of_scanning_every_vector(
        make_app, openai_server, tmp_path):
    _, rt = _app(make_app, openai_server, kb_embedding_model="")
    _ingest(rt, tmp_path, "travel", [TRAVEL, DELIVERY])
    _, rt = _app(make_app, openai_server)
    with rt.db.session("acme") as session:  # a first fill still running: vectors, no index yet
        dims = fake_embeddings.DIMENSIONS
        session.execute(text(f"DROP INDEX IF EXISTS ix_kb_vectors_hnsw_{dims}"))
        chunk_ids = [c for (c,) in session.execute(text("SELECT id FROM kb_chunks ORDER BY id"))]
        vectors.store(session, "acme", MODEL, [(c, fake_embeddings.embed(t)) for c, t in
                                               zip(chunk_ids, [TRAVEL, DELIVERY])])
    openai_server.reset()
    # Both passages hold "days": two lexical candidates to re-rank.
    _, _, shown = grounding.sources_for(rt, SAM, "Travel", "How many days for the train refund?",
                                        DraftOptions(), Redactor())
    assert [s.page for s in shown] == [1, 2]
    calls = [r.body["input"] for r in openai_server.requests if r.path == "/v1/embeddings"]
    assert len(calls) == 2 and len(calls[0]) == 1  # the query once, then the candidates
    assert not knowledge_vectors.searchable(rt, fake_embeddings.DIMENSIONS)


@on_postgresql
def test_kb_embed_needs_kb_manage_and_writes_nothing_without_it(make_app, openai_server,
                                                                tmp_path):
    _, rt = _app(make_app, openai_server, kb_embedding_model="")
    _ingest(rt, tmp_path, "travel", [TRAVEL])
    _, rt = _app(make_app, openai_server)
    with pytest.raises(PermissionDenied):
        knowledge_vectors.embed_missing(rt, SAM)
    assert _vector_rows(rt) == [] and _embedding_inputs(openai_server) == []


class _BadEmbedder:
    """Answers with the wrong number of vectors, or vectors too long to index."""

    def __init__(self, kind: str):
        self.kind = kind

    def embed(self, texts):
        if self.kind == "count":
            return [[1.0, 0.0]] * (len(texts) + 1)
        return [[0.5] * (vectors.MAX_DIMENSIONS + 1) for _ in texts]


@on_postgresql
@pytest.mark.parametrize("kind, reason", [("count", "3 embeddings came back for 2"),
                                          ("size", "4001 dimensions cannot be indexed")])
def test_a_provider_answer_that_cannot_be_stored_is_reported_and_nothing_written(
        make_app, openai_server, tmp_path, kind, reason):
    _, rt = _app(make_app, openai_server)
    rt.caches["kb_embedder"] = _BadEmbedder(kind)
    report = _ingest(rt, tmp_path, "travel", [TRAVEL, DELIVERY])
    assert report.chunks == 2 and report.embedded == 0
    assert reason in (report.embedding_error or "")
    assert _vector_rows(rt) == []
    assert [h.document for h in grounding.search(rt, SAM, "reimbursement", 4)] == ["travel.pdf"]


@on_postgresql
def test_another_tenants_reader_never_gets_this_tenants_passages(make_app, openai_server,
                                                                 tmp_path):
    _, rt = _app(make_app, openai_server)
    _ingest(rt, tmp_path, "travel", [TRAVEL], groups=("everyone",))
    stranger = Principal(idp="local", tenant_id="globex", subject="sam", user_id="u-g",
                         groups=frozenset({"everyone", "sales"}))
    with rt.db.session("globex", read_only=True) as session:
        reader = grounding.reader_for(session, stranger)
        assert vectors.nearest(session, reader, MODEL, fake_embeddings.embed(TRAVEL), 10) == []
    assert grounding.candidates(rt, stranger, QUESTION, 10,
                                vector=fake_embeddings.embed(QUESTION)) == ([], [])


@on_sqlite
def test_on_sqlite_nothing_is_stored_and_ingest_reports_no_error(make_app, openai_server,
                                                                 tmp_path):
    _, rt = _app(make_app, openai_server)
    report = _ingest(rt, tmp_path, "travel", [TRAVEL])
    assert (report.embedded, report.embedding_error) == (0, None)
    assert not knowledge_vectors.stored(rt) and _embedding_inputs(openai_server) == []
    assert "cannot store vectors" in (knowledge_vectors.embed_missing(rt, ADMIN).error or "")


def test_vectors_that_cannot_be_stored_are_refused_with_a_reason():
    for bad in ([], [1.0, math.nan], [math.inf]):
        with pytest.raises(vectors.VectorError, match="finite"):
            vectors.literal(bad)
    assert vectors.literal([1, 0.5, -2e-7]) == "[1.0,0.5,-2e-07]"
    with pytest.raises(vectors.VectorError, match="5000 dimensions"):
        vectors.store(None, "acme", MODEL, [(1, [0.1] * 5000)])  # type: ignore[arg-type]


def test_the_migration_and_kb_embed_create_the_same_table():
    """Migration 0007 keeps its own copy of the DDL; `kb embed` uses vectors.py's."""
    name = f"replywise_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(_psycopg_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    engine = create_engine(_psycopg_url(url))
    try:
        migrate.upgrade(url)
        migrated = _definition(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE kb_vectors"))
            assert vectors.ensure_schema(conn)
        assert _definition(engine) == migrated and migrated["columns"]
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _definition(engine) -> dict[str, list]:
    with engine.connect() as conn:
        columns = conn.execute(text(
            "SELECT column_name, data_type, udt_name, character_maximum_length, is_nullable "
            "FROM information_schema.columns WHERE table_name = 'kb_vectors' "
            "ORDER BY ordinal_position")).all()
        constraints = conn.execute(text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'kb_vectors'::regclass ORDER BY conname")).all()
    return {"columns": [tuple(c) for c in columns], "constraints": [tuple(c) for c in constraints]}


@on_postgresql
def test_kb_embed_and_kb_search_from_the_command_line(run_cli, openai_server, tmp_path):
    folder = tmp_path / "travel"
    folder.mkdir()
    write_pdf(folder / "travel.pdf", [TRAVEL, DELIVERY])
    # Ingested while embeddings were off: no vectors yet.
    assert run_cli("kb", "ingest", str(folder), "--groups", "sales", "--local").exit_code == 0
    assert run_cli("users", "grant", "local-user", "drafter").exit_code == 0  # creates them
    assert run_cli("kb", "group", "add", "local-user", "sales").exit_code == 0
    provider = json.dumps([{"kind": "compatible", "name": "fake", "model": "gpt-4o-mini",
                            "base_url": openai_server.base_url}])
    env = {"REPLYWISE_PROVIDERS": provider, "REPLYWISE_KB_EMBEDDING_MODEL": MODEL}
    result = run_cli("kb", "embed", env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report | {"seconds": 0} == {"embedded": 2, "withheld": 0, "error": None, "seconds": 0,
                                       "model": MODEL, "stored": True,
                                       "passages_with_vectors": 2, "passages": 2}
    found = run_cli("kb", "search", QUESTION, "--as", "local-user", env=env)
    assert found.exit_code == 0, found.output
    assert [h["document"] for h in json.loads(found.stdout)][:1] == ["travel.pdf"]
    lexical = run_cli("kb", "search", QUESTION, "--as", "local-user")
    assert json.loads(lexical.stdout) == []
    down = run_cli("kb", "embed", env=env | {"REPLYWISE_KB_EMBEDDING_MODEL": ""})
    assert down.exit_code == 1 and "no embedding model is configured" in down.output
