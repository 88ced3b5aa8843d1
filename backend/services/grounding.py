"""Grounding a draft in company documents: find the passages this user may read, redact them.

The query is the newest message (already redacted) and the subject. Permission filtering
happens inside the search statement (knowledge/index.py), so a passage of a document outside
the user's groups never leaves the database, whatever the email asks for.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.drafting.model import DraftOptions, Source
from backend.drafting.tokens import estimate_tokens
from backend.governance.identity import Principal, canonical_id
from backend.governance.pii import PiiBlocked, Redactor
from backend.knowledge import hybrid, index, vectors
from backend.knowledge.query import search_terms
from backend.providers.embeddings import Embedder
from backend.services import directory_groups, knowledge_presence, knowledge_vectors
from backend.services.runtime import Runtime
from backend.storage.models.knowledge import UserGroup

EXCERPT_CHARS = 240
HYBRID_POOL = 5  # lexical candidates per passage kept, when embeddings re-rank them
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceRef:
    """A source as the user sees it under the draft: document, page, a short excerpt."""

    n: int
    document_id: str
    document: str
    page: int | None
    excerpt: str


def reader_for(session: Session, principal: Principal) -> index.Reader:
    """The principal as a reader: token groups plus database groups; user id and subject."""
    groups = set(principal.groups)
    if principal.user_id:
        stored = session.scalars(select(UserGroup.group_name)
                                 .where(UserGroup.user_id == principal.user_id)).all()
        # As stored and in canonical form: memberships written before object ids were stored
        # in lower case must keep matching the grants written since (services/knowledge.py).
        groups.update(stored)
        groups.update(canonical_id(g) for g in stored)
    keys = frozenset(k for k in (principal.user_id, principal.subject) if k)
    return index.Reader(principal.tenant_id, frozenset(groups), keys)


def search(rt: Runtime, principal: Principal, query: str, limit: int = 4, *,
           user_assertion: str | None = None) -> list[index.Hit]:
    """The best passages for `query` among the documents `principal` may read.

    `user_assertion` (the caller's Entra token) lets the groups of a user whose token
    overflowed be read from the directory; without it they read with database groups only.
    """
    return candidates(rt, principal, query, limit, user_assertion=user_assertion)[0]


def candidates(rt: Runtime, principal: Principal, query: str, limit: int, *,
               user_assertion: str | None = None, vector: list[float] | None = None
               ) -> tuple[list[index.Hit], list[index.Hit]]:
    """Readable passages for `query`: lexical matches, and (given the query's embedding) the
    passages nearest in meaning from the stored vectors. Both in one read-only transaction,
    with the reader's groups resolved once."""
    terms = search_terms(query)
    if not (terms or vector) or not knowledge_presence.has_documents(rt, principal.tenant_id):
        return [], []
    principal = directory_groups.with_directory_groups(rt, principal, user_assertion)
    with rt.db.session(principal.tenant_id, read_only=True) as session:
        reader = reader_for(session, principal)
        if not index.can_read_any(session, reader):
            return [], []
        lexical = index.search(session, reader, terms, limit=limit) if terms else []
        near = (vectors.nearest(session, reader, rt.settings.kb_embedding_model, vector, limit)
                if vector else [])
        return lexical, near


def sources_for(rt: Runtime, principal: Principal, subject: str, latest: str,
                options: DraftOptions, redactor: Redactor, *, user_assertion: str | None = None
                ) -> tuple[tuple[Source, ...], tuple[Source, ...], tuple[SourceRef, ...]]:
    """Passages for a draft: redacted for the prompt, as written (for the offline drafter,
    which sends nothing anywhere), and what to show the user.

    Passages go through the request's redaction session like the email, so a value gets the
    same placeholder everywhere and comes back in the draft. A passage holding data the
    tenant's policy blocks is left out rather than failing the draft.
    """
    limit = rt.settings.kb_passages
    if not options.grounding or limit <= 0:
        return (), (), ()
    hits = ranked(rt, principal, f"{subject}\n{latest}", limit, redactor,
                  user_assertion=user_assertion)
    budget = rt.settings.kb_passage_tokens
    safe: list[Source] = []
    original: list[Source] = []
    shown: list[SourceRef] = []
    for hit in hits:
        try:
            text, name = redactor.redact_many([hit.text, hit.document])
        except PiiBlocked:
            continue
        cost = estimate_tokens(text)
        if cost > budget:
            continue
        budget -= cost
        n = len(safe) + 1
        safe.append(Source(n=n, document=name, page=hit.page, text=text))
        original.append(Source(n=n, document=hit.document, page=hit.page, text=hit.text))
        shown.append(SourceRef(n=n, document_id=str(hit.document_id), document=hit.document,
                               page=hit.page, excerpt=_excerpt(hit.text)))
    return tuple(safe), tuple(original), tuple(shown)


def ranked(rt: Runtime, principal: Principal, query: str, limit: int, redactor: Redactor, *,
           user_assertion: str | None = None) -> list[index.Hit]:
    """The passages a draft would be grounded in: hybrid when an embedding model is
    configured, lexical otherwise. `query` must already be redacted with `redactor`."""
    embedder = knowledge_vectors.embedder(rt)
    if embedder is None:
        return search(rt, principal, query, limit, user_assertion=user_assertion)
    return _hybrid(rt, principal, query, embedder, redactor, limit, user_assertion)


def _hybrid(rt: Runtime, principal: Principal, query: str, embedder: Embedder,
            redactor: Redactor, limit: int, user_assertion: str | None) -> list[index.Hit]:
    """Lexical and nearest-in-meaning passages fused by rank, where vectors are stored;
    otherwise lexical candidates re-ranked with embeddings made now. `query` is redacted."""
    pool = limit * HYBRID_POOL
    vector = None
    if knowledge_vectors.stored(rt):
        try:
            vector = embedder.embed([query])[0]
        except Exception:  # noqa: BLE001 - hybrid ranking is an improvement, never a requirement
            log.warning("embeddings unavailable; lexical ranking only", exc_info=True)
            return search(rt, principal, query, limit, user_assertion=user_assertion)
        if not knowledge_vectors.searchable(rt, len(vector)):
            vector = None
    lexical, near = candidates(rt, principal, query, pool, user_assertion=user_assertion,
                               vector=vector)
    if near:
        return hybrid.fuse_hits([lexical, near])[:limit]
    # No stored vectors (SQLite, no pgvector, or passages ingested before embeddings were on
    # and not yet filled in by `replywise kb embed`): re-rank the lexical candidates now.
    if len(lexical) > 1:
        return _rerank(embedder, query, lexical, redactor, vector)[:limit]
    return lexical[:limit]


def _rerank(embedder: Embedder, query: str, hits: list[index.Hit], redactor: Redactor,
            query_vector: list[float] | None = None) -> list[index.Hit]:
    """Hybrid order of readable candidates; lexical order when embeddings are unavailable.

    The query is already redacted (and may be embedded already); candidates are redacted in
    the draft's session before they leave, like everything else sent to a provider.
    """
    try:
        texts = redactor.redact_many([h.text for h in hits])
        if query_vector is None:
            query_vector, *candidates = embedder.embed([query, *texts])
        else:
            candidates = embedder.embed(texts)
    except Exception:  # noqa: BLE001 - hybrid ranking is an improvement, never a requirement
        log.warning("embeddings unavailable; lexical ranking only", exc_info=True)
        return hits
    return [hits[i] for i in hybrid.fuse(query_vector, candidates)]


def cited(refs: tuple[SourceRef, ...], draft_text: str) -> list[dict[str, object]]:
    """The sources as the API lists them, each marked with whether the draft cites it."""
    return [{"n": r.n, "document_id": r.document_id, "document": r.document, "page": r.page,
             "excerpt": r.excerpt, "cited": f"[{r.n}]" in draft_text} for r in refs]


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) <= EXCERPT_CHARS:
        return flat
    cut = flat.rfind(" ", 0, EXCERPT_CHARS)
    return flat[: cut if cut > EXCERPT_CHARS // 2 else EXCERPT_CHARS].rstrip(" ,;:") + "…"

