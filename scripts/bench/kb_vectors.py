#!/usr/bin/env python3
"""Hybrid retrieval's vector half on PostgreSQL + pgvector: store rate, size, latency, recall.

    PYTHONPATH=. .venv/bin/python scripts/bench/kb_vectors.py --passages 200000 --dims 256

A scratch database gets `--documents` documents of equal share of `--passages` passages, each
document readable by one of `--groups` groups; the reader holds `--reader-groups` of them, so
the permission filter inside the nearest-neighbour statement drops most candidates, as it does
for a user who may read a fraction of a company's documents. Vectors are clustered (documents
about the same topic lie close together) and written through the production path
(knowledge/vectors.py: upsert in batches, the HNSW index maintained as rows arrive). Queries
are timed through vectors.nearest; recall@k is measured against an exact scan with the same
filter. Prints one JSON object; docs/benchmarks.md records results.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from backend.knowledge import index, vectors  # noqa: E402
from backend.storage import migrate  # noqa: E402
from backend.storage.models.knowledge import CHUNK_BITS  # noqa: E402

TENANT = "bench"
MODEL = "bench-embeddings"


def _unit(values: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def _near(center: list[float], rng: random.Random, spread: float) -> list[float]:
    """A unit vector around `center` (a unit vector), `spread` away on average (Euclidean)."""
    sigma = spread / math.sqrt(len(center))
    return _unit([c + rng.gauss(0.0, sigma) for c in center])


def _documents(session: Session, documents: int, per_document: int, groups: int) -> None:
    session.execute(text(
        "INSERT INTO tenants (id, name, created_at, policy) VALUES (:t, :t, now(), '{}') "
        "ON CONFLICT DO NOTHING"), {"t": TENANT})
    for start in range(1, documents + 1, 1000):
        ids = range(start, min(start + 1000, documents + 1))
        session.execute(text(
            "INSERT INTO kb_documents (id, tenant_id, name, source, media_type, content_hash, "
            "size_bytes, pages, chunks, created_at, updated_at) VALUES (:id, :t, :n, :n, "
            "'application/pdf', '0', 0, 1, :c, now(), now())"),
            [{"id": i, "t": TENANT, "n": f"doc-{i}.pdf", "c": per_document} for i in ids])
        session.execute(text(
            "INSERT INTO kb_access (tenant_id, document_id, kind, principal) "
            "VALUES (:t, :id, 'group', :g)"),
            [{"t": TENANT, "id": i, "g": f"g{i % groups}"} for i in ids])
        session.execute(text(
            "INSERT INTO kb_chunks (id, document_id, page, text) VALUES (:id, :d, 1, :x)"),
            [{"id": (i << CHUNK_BITS) + j, "d": i, "x": f"passage {j} of document {i}"}
             for i in ids for j in range(per_document)])


def _store(engine, rng: random.Random, documents: list[int], per_document: int,
           centers: list[list[float]], topic_of: dict[int, int], batch_size: int) -> int:
    written = 0
    batch: list[tuple[int, list[float]]] = []
    for document in documents:
        for j in range(per_document):
            batch.append(((document << CHUNK_BITS) + j,
                          _near(centers[topic_of[document]], rng, 0.5)))
            if len(batch) >= batch_size:
                with Session(engine) as session, session.begin():
                    written += vectors.store(session, TENANT, MODEL, batch)
                batch = []
    if batch:
        with Session(engine) as session, session.begin():
            written += vectors.store(session, TENANT, MODEL, batch)
    return written


def _exact(session: Session, reader: index.Reader, query: list[float], k: int) -> list[int]:
    """The true nearest readable passages: `+ 0` keeps the HNSW index from serving the order."""
    dims = len(query)
    granted = index.GRANTED.format(document=f"(v.chunk_id >> {CHUNK_BITS})")
    rows = session.execute(index.reader_statement(f"""
        SELECT v.chunk_id FROM kb_vectors v
        WHERE v.dims = {dims} AND v.model = :model AND v.tenant_id = :tenant AND {granted}
        ORDER BY ((v.embedding::halfvec({dims})) <=> CAST(:q AS halfvec({dims}))) + 0,
                 v.chunk_id
        LIMIT :k"""), {**index.reader_params(reader), "model": MODEL,
                       "q": vectors.literal(query), "k": k})
    return [r.chunk_id for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=200_000)
    parser.add_argument("--dims", type=int, default=256)
    parser.add_argument("--documents", type=int, default=4_000)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--reader-groups", type=int, default=2)
    parser.add_argument("--topics", type=int, default=400, help="clusters of documents")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--recall-queries", type=int, default=50)
    parser.add_argument("--k", type=int, default=20, help="passages asked for (a draft's pool)")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--ef-search", default=str(vectors._EF_SEARCH),
                        help="comma list: hnsw.ef_search values to time queries with")
    parser.add_argument("--postgres-admin-url",
                        default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    rng = random.Random(7)
    per_document = max(1, args.passages // args.documents)
    name = f"replywise_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine("postgresql+psycopg://" + args.postgres_admin_url.split("://", 1)[1],
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = args.postgres_admin_url.rsplit("/", 1)[0] + "/" + name
    engine = create_engine("postgresql+psycopg://" + url.split("://", 1)[1])
    try:
        migrate.upgrade(url)
        with Session(engine) as session, session.begin():
            _documents(session, args.documents, per_document, args.groups)
        centers = [_unit([rng.gauss(0, 1) for _ in range(args.dims)]) for _ in range(args.topics)]
        topic_of = {d: rng.randrange(args.topics) for d in range(1, args.documents + 1)}

        # Phase 1, a first fill: vectors written in batches, the index built once they are in
        # (what services/knowledge_vectors.py does). Phase 2: later ingests, index in place.
        fill = [d for d in range(1, args.documents + 1) if d % 50]
        later = [d for d in range(1, args.documents + 1) if d % 50 == 0]
        started = time.perf_counter()
        written = _store(engine, rng, fill, per_document, centers, topic_of, args.batch)
        fill_s = time.perf_counter() - started
        started = time.perf_counter()
        with Session(engine) as session, session.begin():
            vectors.ensure_index(session, args.dims)
        build_s = time.perf_counter() - started
        started = time.perf_counter()
        added = _store(engine, rng, later, per_document, centers, topic_of, args.batch)
        later_s = time.perf_counter() - started
        written += added
        with engine.begin() as conn:  # autovacuum would analyze; the benchmark cannot wait
            conn.execute(text("ANALYZE"))
            table_mb = conn.execute(text("SELECT pg_table_size('kb_vectors')")).scalar() / 2**20
            index_mb = conn.execute(text(
                f"SELECT pg_relation_size('ix_kb_vectors_hnsw_{args.dims}')")).scalar() / 2**20

        reader = index.Reader(TENANT, frozenset(f"g{i}" for i in range(args.reader_groups)),
                              frozenset())
        queries = [_near(centers[rng.randrange(args.topics)], rng, 0.7)
                   for _ in range(args.queries)]
        truths = []
        for query in queries[:args.recall_queries]:
            with Session(engine) as session, session.begin():
                truths.append(set(_exact(session, reader, query, args.k)))
        plan = ""
        searches = {}
        for ef_search in [int(v) for v in args.ef_search.split(",")]:
            vectors._EF_SEARCH = ef_search  # the production default is what the first one is
            timings, recalls = [], []
            for i, query in enumerate(queries):
                with Session(engine) as session, session.begin():
                    t0 = time.perf_counter()
                    hits = vectors.nearest(session, reader, MODEL, query, args.k)
                    timings.append((time.perf_counter() - t0) * 1000)
                    if not plan:
                        plan = _explain(session, reader, query, args.k)
                assert all((h.chunk_id >> CHUNK_BITS) % args.groups < args.reader_groups
                           for h in hits), "an unreadable passage was returned"
                if i < len(truths):
                    found = {h.chunk_id for h in hits}
                    recalls.append(len(found & truths[i]) / max(1, len(truths[i])))
            timings.sort()
            searches[str(ef_search)] = {
                "p50_ms": round(statistics.median(timings), 2),
                "p95_ms": round(timings[int(0.95 * (len(timings) - 1))], 2),
                "p99_ms": round(timings[int(0.99 * (len(timings) - 1))], 2),
                "recall_at_k": round(statistics.mean(recalls), 3)}
        result = {
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "load_1m": round(os.getloadavg()[0], 2)},
            "passages": written, "dims": args.dims, "documents": args.documents,
            "readable_share": round(args.reader_groups / args.groups, 3), "k": args.k,
            "first_fill_rows_per_s": round((written - added) / fill_s),
            "index_build_s": round(build_s, 1),
            "later_rows_per_s": round(added / later_s),
            "table_mb": round(table_mb, 1), "hnsw_index_mb": round(index_mb, 1),
            "nearest_by_ef_search": searches,
            "uses_hnsw_index": f"ix_kb_vectors_hnsw_{args.dims}" in plan,
        }
        print(json.dumps(result, indent=2))
    finally:
        engine.dispose()
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _explain(session: Session, reader: index.Reader, query: list[float], k: int) -> str:
    """The plan of the statement nearest() runs, captured as it is sent."""
    captured: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "kb_vectors v" in statement:
            captured.append((statement, parameters))

    bind = session.connection()
    event.listen(bind, "before_cursor_execute", capture)
    try:
        vectors.nearest(session, reader, MODEL, query, k)
    finally:
        event.remove(bind, "before_cursor_execute", capture)
    statement, parameters = captured[-1]
    cursor = bind.connection.dbapi_connection.cursor()
    cursor.execute("EXPLAIN " + statement, parameters)
    return "\n".join(row[0] for row in cursor.fetchall())


if __name__ == "__main__":
    main()
