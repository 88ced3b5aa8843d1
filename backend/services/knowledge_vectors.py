"""Embeddings of a tenant's passages, made at ingest and stored with pgvector (optional).

On when an embedding model is configured (REPLYWISE_KB_EMBEDDING_MODEL) and the database has
the kb_vectors table (PostgreSQL with pgvector, see knowledge/vectors.py). Ingest calls
`embed_documents` for what it just wrote; `replywise kb embed` calls `embed_missing` to fill in
a knowledge base ingested before embeddings were on, or after the model changed.

Passages are redacted with the tenant's PII policy before they leave, like everything sent to a
provider; a passage the policy blocks gets no vector and is found by lexical search only.
Embedding runs outside any database transaction (a provider call takes seconds), then each
batch is written in one short transaction: a failure halfway leaves whole batches written and
the rest to a later `kb embed`, never a half-written batch. Search does not depend on vectors
being complete: passages without one are still found lexically.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from backend.governance import rbac
from backend.governance.identity import Principal
from backend.governance.pii import PiiBlocked, Redactor
from backend.knowledge import index, vectors
from backend.providers.embeddings import Embedder, build_embedder
from backend.services import audit, tenants
from backend.services.runtime import Runtime

BATCH = 64            # passages per embeddings request (well under providers' input limits)
_ABSENT_RECHECK_S = 60  # a server without the table is asked again after this long
log = logging.getLogger(__name__)


@dataclass
class EmbedReport:
    """What one embedding run did."""

    embedded: int = 0
    withheld: int = 0          # passages the tenant's PII policy keeps from the provider
    error: str | None = None   # why the run stopped early, if it did
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"embedded": self.embedded, "withheld": self.withheld, "error": self.error,
                "seconds": self.seconds}


def embedder(rt: Runtime) -> Embedder | None:
    """The configured embedder, built once per runtime; None when hybrid ranking is off."""
    if not rt.settings.kb_embedding_model:
        return None
    if "kb_embedder" not in rt.caches:
        rt.caches["kb_embedder"] = build_embedder(rt.settings.providers,
                                                  rt.settings.kb_embedding_model,
                                                  rt.settings.kb_embedding_dimensions)
    return rt.caches["kb_embedder"]  # type: ignore[return-value]


def stored(rt: Runtime) -> bool:
    """True when passages' vectors live in the database (PostgreSQL with pgvector)."""
    if rt.db.engine.dialect.name != "postgresql":
        return False
    cached = rt.caches.get("kb_vectors_present")  # True, or when to ask a server again
    if cached is True:
        return True
    if cached is not None and time.monotonic() < cached:  # type: ignore[operator]
        return False
    with rt.db.session(read_only=True) as session:
        present = vectors.present(session)
    rt.caches["kb_vectors_present"] = True if present else time.monotonic() + _ABSENT_RECHECK_S
    return present


def enable(rt: Runtime) -> bool:
    """Create the extension and table if the server can (idempotent); True when stored."""
    if rt.db.engine.dialect.name != "postgresql":
        return False
    with rt.db.engine.begin() as connection:
        created = vectors.ensure_schema(connection)
    rt.caches.pop("kb_vectors_present", None)
    return created


def embed_documents(rt: Runtime, tenant_id: str, document_ids: Iterable[int]) -> EmbedReport:
    """Vectors for the passages of documents just written (nothing when embeddings are off)."""
    ids = sorted(set(document_ids))
    if not ids or embedder(rt) is None or not stored(rt):
        return EmbedReport()
    ranges = [index.chunk_range(d) for d in ids]
    return _run(rt, tenant_id, ranges)


def embed_missing(rt: Runtime, actor: Principal,
                  progress: Callable[[EmbedReport], None] | None = None) -> EmbedReport:
    """Vectors for every passage of the actor's tenant that has none for the current model
    (kb.manage); creates the table first where the server has pgvector but not the table."""
    rbac.require(actor, "kb.manage")
    enable(rt)
    report = _run(rt, actor.tenant_id, [None], progress)
    with rt.db.session(actor.tenant_id) as session:
        audit.record(rt, session, actor, "kb.embed",
                     target=("kb_model", rt.settings.kb_embedding_model or "-"),
                     details={"embedded": report.embedded, "withheld": report.withheld,
                              "failed": report.error is not None})
    return report


def _run(rt: Runtime, tenant_id: str, ranges: list[tuple[int, int] | None],
         progress: Callable[[EmbedReport], None] | None = None) -> EmbedReport:
    model = rt.settings.kb_embedding_model
    client = embedder(rt)
    report = EmbedReport()
    started = time.perf_counter()
    if client is None or not stored(rt):
        report.error = ("no embedding model is configured" if client is None
                        else "this database cannot store vectors (PostgreSQL with pgvector)")
        return report
    policy = tenants.policy_for(rt, tenant_id)
    dims_seen: set[int] = set()
    pending: list[vectors.Unembedded] = []

    def flush() -> bool:
        nonlocal pending
        ok = _embed_batch(rt, client, tenant_id, model, policy.pii, pending, dims_seen, report)
        pending = []
        if progress:
            progress(report)
        return ok

    ok = True
    for rows in _missing(rt, tenant_id, model, ranges):
        pending += rows
        if len(pending) >= BATCH:
            ok = flush()
            if not ok:
                break
    if ok and pending:
        flush()
    _index(rt, dims_seen)
    report.seconds = round(time.perf_counter() - started, 2)
    return report


def _missing(rt: Runtime, tenant_id: str, model: str, ranges: list[tuple[int, int] | None]
             ) -> Iterator[list[vectors.Unembedded]]:
    """Passages without a vector for `model`, a page at a time, in each range of chunk ids
    (None: the whole tenant). Each page is read in its own short transaction."""
    for bounds in ranges:
        after = -1 if bounds is None else bounds[0] - 1
        while True:
            with rt.db.session(tenant_id, read_only=True) as session:
                rows = vectors.unembedded(session, tenant_id, model, after=after, limit=BATCH,
                                          first=bounds and bounds[0], last=bounds and bounds[1])
            if not rows:
                break
            yield rows
            after = rows[-1].chunk_id


def searchable(rt: Runtime, dims: int) -> bool:
    """True when vectors of `dims` dimensions have their index. Until the first fill has built
    it, nearest-neighbour search would scan every stored vector, so drafts re-rank instead."""
    cache: dict[int, float] = rt.caches.setdefault("kb_vector_indexes", {})  # type: ignore[assignment]
    if cache.get(dims, 0.0) > time.monotonic():
        return True
    with rt.db.session(read_only=True) as session:
        present = vectors.index_exists(session, dims)
    if present:
        cache[dims] = time.monotonic() + 3600  # indexes are not dropped while serving
    return present


def _index(rt: Runtime, dims_seen: set[int]) -> None:
    """The HNSW index of each dimension written, built once the run's vectors are in: building
    over loaded rows is about ten times faster than growing the graph row by row (measured in
    docs/benchmarks.md), which matters for a first fill of a large knowledge base. Later runs
    find the index there and extend it."""
    for dims in sorted(dims_seen):
        with rt.db.session() as session:
            vectors.ensure_index(session, dims)


def _embed_batch(rt: Runtime, client: Embedder, tenant_id: str, model: str, pii_policy,
                 rows: list[vectors.Unembedded], dims_seen: set[int],
                 report: EmbedReport) -> bool:
    """Embed and store one batch; False (with report.error set) when the provider failed."""
    ids: list[int] = []
    texts: list[str] = []
    for row in rows:
        try:
            texts.append(Redactor(pii_policy).redact(row.text))
        except PiiBlocked:
            report.withheld += 1
            continue
        ids.append(row.chunk_id)
    if not texts:
        return True
    try:
        embedded = client.embed(texts)
        if len(embedded) != len(texts):
            raise vectors.VectorError(f"{len(embedded)} embeddings came back for {len(texts)} "
                                      "passages")
        with rt.db.session(tenant_id) as session:
            report.embedded += vectors.store(session, tenant_id, model, zip(ids, embedded))
        dims_seen.update(len(v) for v in embedded)
    except Exception as exc:  # noqa: BLE001 - vectors are an improvement; lexical search stands
        log.warning("passage embeddings stopped: %s", exc, exc_info=True)
        report.error = f"embeddings failed ({type(exc).__name__}: {exc})"[:300]
        return False
    return True


def stats(rt: Runtime, tenant_id: str) -> dict[str, Any]:
    """How many of the tenant's passages have a vector for the current model."""
    model = rt.settings.kb_embedding_model
    if not model or not stored(rt):
        return {"model": model or None, "stored": False, "passages_with_vectors": 0}
    with rt.db.session(tenant_id, read_only=True) as session:
        done = vectors.count(session, tenant_id, model)
        total = session.execute(text(
            "SELECT count(*) FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id "
            "WHERE d.tenant_id = :t"), {"t": tenant_id}).scalar_one()
    return {"model": model, "stored": True, "passages_with_vectors": done,
            "passages": total}
