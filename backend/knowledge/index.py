"""The chunk index in SQL: write a document's passages, and search them as a given reader.

SQLite: FTS5 over kb_chunks, kept in step by triggers. PostgreSQL: a generated tsvector column
with a GIN index. Ranking is BM25-style on both (see ranking.py): each selective query term is
one index probe weighted by its inverse document frequency, summed per passage. The permission filter is part of the
search statement itself: a match only counts if its document (read off the chunk id, see
storage/models/knowledge.py) is granted to one of the reader's groups or to the reader, so
top-k is taken among readable passages only and nothing unreadable ever leaves the database.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, insert, text
from sqlalchemy.orm import Session

from backend.knowledge import ranking
from backend.knowledge.chunking import Chunk
from backend.storage.models.knowledge import CHUNK_BITS, KbChunk

# Everyone in the tenant is in this group; documents granted to it are tenant-wide.
EVERYONE = "everyone"
_INSERT_BATCH = 2000


@dataclass(frozen=True)
class Reader:
    """Who is searching: their tenant, groups, and the keys a user grant may name them by."""

    tenant_id: str
    groups: frozenset[str]
    user_keys: frozenset[str]


@dataclass(frozen=True)
class Hit:
    """One passage found, best first; `score` is larger for better matches."""

    chunk_id: int
    document_id: int
    document: str
    page: int | None
    text: str
    score: float


def chunk_range(document_id: int) -> tuple[int, int]:
    """The first and last possible chunk id of a document."""
    first = document_id << CHUNK_BITS
    return first, first + (1 << CHUNK_BITS) - 1


def replace_chunks(session: Session, document_id: int, chunks: Sequence[Chunk]) -> None:
    """Make `chunks` the document's passages (old ones, if any, are removed first)."""
    if len(chunks) >= 1 << CHUNK_BITS:
        raise ValueError("document has too many passages")
    delete_chunks(session, document_id)
    first, _ = chunk_range(document_id)
    rows = [{"id": first + i, "document_id": document_id, "page": c.page, "text": c.text}
            for i, c in enumerate(chunks)]
    for start in range(0, len(rows), _INSERT_BATCH):
        session.execute(insert(KbChunk), rows[start:start + _INSERT_BATCH])


def delete_chunks(session: Session, document_id: int) -> None:
    """Remove a document's passages (a primary-key range, so no index on document_id)."""
    first, last = chunk_range(document_id)
    session.execute(delete(KbChunk).where(KbChunk.id.between(first, last)))


_ALLOWED = """
    SELECT a.document_id FROM kb_access a
    WHERE a.tenant_id = :tenant AND ((a.kind = 'group' AND a.principal IN :groups)
                                     OR (a.kind = 'user' AND a.principal IN :users))"""

_ANY_READABLE = f"SELECT 1 WHERE EXISTS ({_ALLOWED})"


def _params(reader: Reader) -> dict[str, object]:
    return {"tenant": reader.tenant_id, "groups": sorted(reader.groups | {EVERYONE}),
            "users": sorted(reader.user_keys) or [""]}


def _statement(sql: str):
    return text(sql).bindparams(bindparam("groups", expanding=True),
                                bindparam("users", expanding=True))


def can_read_any(session: Session, reader: Reader) -> bool:
    """True if the reader may read at least one document (most tenants have none at all)."""
    return session.execute(_statement(_ANY_READABLE), _params(reader)).first() is not None


def search(session: Session, reader: Reader, terms: Iterable[str], limit: int = 4) -> list[Hit]:
    """The best `limit` passages for `terms` among the documents the reader may read."""
    words = [t for t in terms if t]
    if not words:
        return []
    sqlite = session.get_bind().dialect.name == "sqlite"
    stats = ranking.sqlite_stats(session, words) if sqlite else ranking.postgres_stats(session,
                                                                                       words)
    plan = ranking.plan(stats)
    if not plan:
        return []
    hits = _run(session, reader, plan, sqlite, limit)
    if not hits and len(plan[0].words) == 1:
        # The rare words (as estimated) are not there: try the common ones.
        plan = ranking.fallback(stats)
        hits = _run(session, reader, plan, sqlite, limit) if plan else []
    if not hits and plan and len(plan[0].words) > 1:
        # Two common words asked together found nothing: the rarer one alone, then.
        hits = _run(session, reader, [ranking.Clause(plan[0].words[:1], plan[0].weight)],
                    sqlite, limit)
    return hits


def _run(session: Session, reader: Reader, plan: list[ranking.Clause], sqlite: bool,
         limit: int) -> list[Hit]:
    match = ranking.SQLITE_MATCH if sqlite else ranking.POSTGRES_MATCH
    # One clause scores every match alike, so the probe itself can stop after `limit` readable
    # matches instead of reading a long posting list to the end. FTS5 yields rowid order, so
    # SQLite keeps the lowest ids; PostgreSQL must not be asked to order (its planner would walk
    # the primary key and test every row), so it keeps any `limit` equally good ones.
    tail = "" if len(plan) > 1 else (" ORDER BY id LIMIT :limit" if sqlite else " LIMIT :limit")
    branches = " UNION ALL ".join(
        f"SELECT id, w FROM ({match.format(i=i)} AND (id >> {CHUNK_BITS}) IN "
        f"(SELECT document_id FROM allowed){tail}) b{i}" for i in range(len(plan)))
    params: dict[str, object] = {**_params(reader), "limit": limit}
    for i, clause in enumerate(plan):
        params[f"m{i}"], params[f"w{i}"] = clause.match(sqlite), clause.weight
    sql = f"""
        WITH allowed AS MATERIALIZED ({_ALLOWED})
        SELECT h.id, h.score, c.page, c.text, d.id AS document_id, d.name
        FROM (SELECT u.id, SUM(u.w) AS score FROM ({branches}) u
              GROUP BY u.id ORDER BY score DESC, u.id LIMIT :limit) h
        JOIN kb_chunks c ON c.id = h.id
        JOIN kb_documents d ON d.id = c.document_id
        WHERE d.tenant_id = :tenant
        ORDER BY h.score DESC, h.id"""
    rows = session.execute(_statement(sql), params)
    return [Hit(chunk_id=r.id, document_id=r.document_id, document=r.name, page=r.page,
                text=r.text, score=float(r.score)) for r in rows]
