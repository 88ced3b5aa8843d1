"""Passage embeddings in PostgreSQL with pgvector, for optional hybrid retrieval.

When the `vector` extension is installed and an embedding model is configured, every passage
gets an embedding at ingest (services/knowledge_vectors.py) and a draft's query is answered by
two searches in the database: the lexical one (index.py) and a nearest-neighbour one here, fused
by rank (hybrid.py). Without the extension, or on SQLite, the lexical candidates are re-ranked
with embeddings made at query time instead; nothing here is ever required.

The table is not part of the ORM metadata: its column type exists only where the extension
does. Rows follow their passage (ON DELETE CASCADE), so removing or replacing a document, a
tenant erasure and retention need no extra step. Embeddings are stored as halfvec (2 bytes a
dimension): half the space of vector, ranking differences far below those between models.
HNSW indexes need a fixed dimension, so there is one partial index per dimension in use
(models differ), created the first time vectors of that dimension are stored.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from backend.knowledge.index import GRANTED_EACH, Hit, Reader, reader_params, reader_statement
from backend.storage.models.knowledge import CHUNK_BITS

TABLE = "kb_vectors"
MAX_DIMENSIONS = 4000  # pgvector's HNSW limit for halfvec
# How many candidates an HNSW scan looks at; when the permission filter drops most of them,
# iterative scanning goes on (up to max_scan_tuples) until `limit` readable ones are found.
# At 200,000 vectors with a fifth readable, recall@20 was 0.90 / 0.92 / 0.95 / 0.95 at 100 /
# 200 / 400 / 800 for p95 9.9 / 10.0 / 11.0 / 12.4 ms (docs/benchmarks.md).
_EF_SEARCH = 400
_MAX_SCAN_TUPLES = 20_000

_CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    chunk_id bigint NOT NULL,
    tenant_id varchar(64) NOT NULL,
    model varchar(200) NOT NULL,
    dims smallint NOT NULL,
    embedding halfvec NOT NULL,
    CONSTRAINT pk_kb_vectors PRIMARY KEY (chunk_id),
    CONSTRAINT fk_kb_vectors_chunk_id_kb_chunks FOREIGN KEY (chunk_id)
        REFERENCES kb_chunks (id) ON DELETE CASCADE,
    CONSTRAINT ck_kb_vectors_dims CHECK (dims = vector_dims(embedding)))"""


class VectorError(ValueError):
    """An embedding that cannot be stored (wrong size, not finite)."""


@dataclass(frozen=True)
class Unembedded:
    """A passage without a vector for the current model."""

    chunk_id: int
    text: str


def extension_available(connection: Connection) -> bool:
    """True on a PostgreSQL server where the pgvector extension is installed or installable."""
    if connection.dialect.name != "postgresql":
        return False
    return connection.execute(text(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")).first() is not None


def ensure_schema(connection: Connection) -> bool:
    """Create the extension (if missing) and the table; False where pgvector is unavailable.

    Idempotent: migration 0007 runs it, and `replywise kb embed` runs it again so that a server
    that gets pgvector later needs no new migration.
    """
    if not extension_available(connection):
        return False
    connection.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
    connection.execute(text(_CREATE_TABLE))
    return True


def present(session: Session) -> bool:
    """True when this database has the vectors table."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    return session.execute(text("SELECT to_regclass(:t) IS NOT NULL"),
                           {"t": TABLE}).scalar_one()


def ensure_index(session: Session, dims: int) -> None:
    """The HNSW index for vectors of `dims` dimensions (cosine distance)."""
    _check_dims(dims)
    if index_exists(session, dims):
        return  # CREATE INDEX IF NOT EXISTS would still take a lock that waits for writers
    name = _index_name(dims)
    # A transaction-scoped advisory lock: two ingests starting at once must not both build it.
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"{TABLE}:{dims}"})
    session.execute(text(
        f"CREATE INDEX IF NOT EXISTS {name} ON {TABLE} "
        f"USING hnsw ((embedding::halfvec({dims})) halfvec_cosine_ops) WHERE dims = {dims}"))


def index_exists(session: Session, dims: int) -> bool:
    """True when the HNSW index for `dims` dimensions is there."""
    return session.execute(text("SELECT to_regclass(:n) IS NOT NULL"),
                           {"n": _index_name(dims)}).scalar_one()


def _index_name(dims: int) -> str:
    return f"ix_{TABLE}_hnsw_{dims}"


def literal(vector: Sequence[float]) -> str:
    """pgvector's text form of a vector; refuses values it could not store."""
    if not vector or not all(math.isfinite(x) for x in vector):
        raise VectorError("an embedding must be a non-empty list of finite numbers")
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


def store(session: Session, tenant_id: str, model: str,
          rows: Iterable[tuple[int, Sequence[float]]]) -> int:
    """Upsert the vectors of passages (chunk id, embedding); the count written."""
    params = []
    for chunk_id, vector in rows:
        _check_dims(len(vector))
        params.append({"id": chunk_id, "tenant": tenant_id, "model": model,
                       "dims": len(vector), "v": literal(vector)})
    if params:
        session.execute(text(
            f"INSERT INTO {TABLE} (chunk_id, tenant_id, model, dims, embedding) "
            "VALUES (:id, :tenant, :model, :dims, CAST(:v AS halfvec)) "
            "ON CONFLICT (chunk_id) DO UPDATE SET model = EXCLUDED.model, "
            "dims = EXCLUDED.dims, embedding = EXCLUDED.embedding"), params)
    return len(params)


def unembedded(session: Session, tenant_id: str, model: str, *, after: int, limit: int,
               first: int | None = None, last: int | None = None) -> list[Unembedded]:
    """The tenant's passages with no vector for `model`, by chunk id from `after` onwards;
    `first`/`last` narrow it to a range of chunk ids (one document's, see index.chunk_range)."""
    bounds = "" if first is None else "AND c.id BETWEEN :first AND :last"
    rows = session.execute(text(f"""
        SELECT c.id, c.text FROM kb_chunks c
        JOIN kb_documents d ON d.id = c.document_id
        LEFT JOIN {TABLE} v ON v.chunk_id = c.id AND v.model = :model
        WHERE d.tenant_id = :tenant AND c.id > :after {bounds} AND v.chunk_id IS NULL
        ORDER BY c.id LIMIT :limit"""),
        {"tenant": tenant_id, "model": model, "after": after, "limit": limit,
         "first": first, "last": last})
    return [Unembedded(r.id, r.text) for r in rows]


def count(session: Session, tenant_id: str, model: str) -> int:
    """How many of the tenant's passages have a vector for `model`."""
    return session.execute(text(f"SELECT count(*) FROM {TABLE} WHERE tenant_id = :t "
                                "AND model = :m"), {"t": tenant_id, "m": model}).scalar_one()


def nearest(session: Session, reader: Reader, model: str, query: Sequence[float],
            limit: int) -> list[Hit]:
    """The `limit` readable passages closest in meaning to `query`, closest first.

    The permission test is inside the statement, as for lexical search: an unreadable passage
    is never a candidate, however close its vector. `score` is the cosine similarity.
    """
    dims = len(query)
    _check_dims(dims)
    # Iterative scanning lets the filtered scan continue past the first ef_search candidates;
    # relaxed order may yield them slightly out of order, so the outer query sorts again.
    session.execute(text(f"SET LOCAL hnsw.ef_search = {_EF_SEARCH}; "
                         "SET LOCAL hnsw.iterative_scan = relaxed_order; "
                         f"SET LOCAL hnsw.max_scan_tuples = {_MAX_SCAN_TUPLES}; "
                         "SET LOCAL jit = off"))
    granted = GRANTED_EACH.format(document=f"(v.chunk_id >> {CHUNK_BITS})")
    sql = f"""
        WITH near AS MATERIALIZED (
            SELECT v.chunk_id,
                   (v.embedding::halfvec({dims})) <=> CAST(:q AS halfvec({dims})) AS distance
            FROM {TABLE} v
            WHERE v.dims = {dims} AND v.model = :model AND v.tenant_id = :tenant AND {granted}
            ORDER BY (v.embedding::halfvec({dims})) <=> CAST(:q AS halfvec({dims}))
            LIMIT :limit)
        SELECT n.chunk_id, n.distance, c.page, c.text, d.id AS document_id, d.name
        FROM near n
        JOIN kb_chunks c ON c.id = n.chunk_id
        JOIN kb_documents d ON d.id = c.document_id
        WHERE d.tenant_id = :tenant
        ORDER BY n.distance, n.chunk_id"""
    params = {**reader_params(reader), "model": model, "q": literal(query), "limit": limit}
    rows = session.execute(reader_statement(sql), params)
    return [Hit(chunk_id=r.chunk_id, document_id=r.document_id, document=r.name, page=r.page,
                text=r.text, score=1.0 - float(r.distance)) for r in rows]


def _check_dims(dims: int) -> None:
    if not 0 < dims <= MAX_DIMENSIONS:
        raise VectorError(f"an embedding of {dims} dimensions cannot be indexed "
                          f"(1 to {MAX_DIMENSIONS})")
