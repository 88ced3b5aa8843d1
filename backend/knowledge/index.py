"""The chunk index in SQL: write a document's passages, and search them as a given reader.

SQLite: FTS5 over kb_chunks, kept in step by triggers. PostgreSQL: a generated tsvector column
with a GIN index. Ranking is BM25-style on both (see ranking.py): each selective query term is
one index probe weighted by its inverse document frequency, summed per passage, and the probes
run tier by tier so that long posting lists are read only where they can change the top
(tiers.py). The permission filter is part of every search statement itself: a match only
counts if its document (read off the chunk id, see storage/models/knowledge.py) is granted to
one of the reader's groups or to the reader, so top-k is taken among readable passages only and
nothing unreadable ever leaves the database.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, insert, text
from sqlalchemy.orm import Session

from backend.knowledge import ranking, tiers
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

# The same grant test for one document (a primary-key lookup in kb_access). PostgreSQL searches
# test the documents their matches fall in, not the reader's whole list of readable documents:
# that list grows with the tenant (2,500 documents cost ~1.5 ms to read and hash for every
# statement), the documents a search touches do not.
_GRANT_TEST = """
    SELECT 1 FROM kb_access a
    WHERE a.document_id = {document} AND a.tenant_id = :tenant
      AND ((a.kind = 'group' AND a.principal IN :groups)
           OR (a.kind = 'user' AND a.principal IN :users))"""
GRANTED = "EXISTS (" + _GRANT_TEST + ")"
# The same test for a filter applied row by row as rows stream out of an index scan (vectors.py).
# OFFSET 0 keeps it a primary-key lookup per row: as a plain EXISTS the planner may flatten it
# into a semi-join that reads all of the tenant's grants for every row, when it expects few rows.
GRANTED_EACH = "EXISTS (" + _GRANT_TEST + " OFFSET 0)"


def reader_params(reader: Reader) -> dict[str, object]:
    """The bind parameters GRANTED and the reader's searches use."""
    return {"tenant": reader.tenant_id, "groups": sorted(reader.groups | {EVERYONE}),
            "users": sorted(reader.user_keys) or [""]}


def reader_statement(sql: str):
    """`sql` with the reader's group and user lists bound as expanding IN lists."""
    return text(sql).bindparams(bindparam("groups", expanding=True),
                                bindparam("users", expanding=True))


def can_read_any(session: Session, reader: Reader) -> bool:
    """True if the reader may read at least one document (most tenants have none at all)."""
    statement = reader_statement(_ANY_READABLE)
    return session.execute(statement, reader_params(reader)).first() is not None


def search(session: Session, reader: Reader, terms: Iterable[str], limit: int = 4) -> list[Hit]:
    """The best `limit` passages for `terms` among the documents the reader may read."""
    words = [t for t in terms if t]
    if not words:
        return []
    sqlite = session.get_bind().dialect.name == "sqlite"
    if not sqlite:
        _postgres_search_settings(session)
    stats = ranking.sqlite_stats(session, words) if sqlite else ranking.postgres_stats(session,
                                                                                       words)
    plan = ranking.plan(stats)
    if not plan:
        return []
    # A plan of two words asked together means the query has only common words (ranking.plan).
    hits = best_passages(session, reader, plan, limit, common=len(plan[0].words) > 1)
    if not hits and len(plan[0].words) == 1:
        # The rare words (as estimated) are not there: try the common ones.
        plan = ranking.fallback(stats)
        hits = best_passages(session, reader, plan, limit, common=True) if plan else []
    if not hits and plan and len(plan[0].words) > 1:
        # Two common words asked together found nothing: the rarer one alone, then.
        hits = best_passages(session, reader,
                             [ranking.Clause(plan[0].words[:1], plan[0].weight)], limit,
                             common=True)
    return hits


def _postgres_search_settings(session: Session) -> None:
    # For this transaction only.
    # - No sequential scans of the chunks: for a word that looks common enough, the planner
    #   likes a scan that stops at the first few readable matches, and when the reader may read
    #   few of the documents holding it, that scan reads all million rows (seconds). An index
    #   probe costs what the word's posting list costs, which the plan keeps short.
    # - No parallel workers: for a union of probes the planner may start a Parallel Append,
    #   ~5 ms before the first row for a few hundred rows of work.
    # - No JIT, as insurance: no benchmark statement came near jit_above_cost, but a plan of
    #   many probes could, and compiling would then cost more than the query.
    session.execute(text("SET LOCAL enable_seqscan = off; SET LOCAL jit = off; "
                         "SET LOCAL max_parallel_workers_per_gather = 0"))


def best_passages(session: Session, reader: Reader, plan: list[ranking.Clause], limit: int,
                  *, common: bool = False) -> list[Hit]:
    """The best `limit` readable passages for planned clauses, as if every clause were scored,
    found tier by tier (tiers.py): one statement, or more when the rarest words are scarce.
    `common`: the clauses are common words, which a sequential scan may serve best."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    if common and not sqlite:
        # Intersecting posting lists of 10^5 entries takes 10-25 ms, while a sequential scan
        # usually finds passages holding two common words within a few hundred rows; the
        # planner weighs the two, as it always did for these fallbacks.
        session.execute(text("SET LOCAL enable_seqscan = on"))
    hits: list[Hit] = []
    for tier in tiers.tiers(plan):
        hits += _run(session, reader, tier.probes(), sqlite, limit - len(hits))
        if len(hits) >= limit:
            break
    return hits


def _run(session: Session, reader: Reader, probes: list[tiers.Probe], sqlite: bool,
         limit: int) -> list[Hit]:
    """One tier: its probes' readable matches, scored by the sum of the probes they match."""
    readable = _readable_matches(len(probes), sqlite)
    params: dict[str, object] = {**reader_params(reader), "limit": limit}
    for i, probe in enumerate(probes):
        params[f"m{i}"], params[f"w{i}"] = probe.match(sqlite), probe.weight
    sql = f"""
        SELECT h.id, h.score, c.page, c.text, d.id AS document_id, d.name
        FROM (SELECT u.id, SUM(u.w) AS score FROM ({readable}) u
              GROUP BY u.id ORDER BY score DESC, u.id LIMIT :limit) h
        JOIN kb_chunks c ON c.id = h.id
        JOIN kb_documents d ON d.id = c.document_id
        WHERE d.tenant_id = :tenant
        ORDER BY h.score DESC, h.id"""
    rows = session.execute(reader_statement(sql), params)
    return [Hit(chunk_id=r.id, document_id=r.document_id, document=r.name, page=r.page,
                text=r.text, score=float(r.score)) for r in rows]


def _readable_matches(probes: int, sqlite: bool) -> str:
    """SQL for the (id, w) rows of `probes` index probes that fall in readable documents.

    One probe scores every match alike, so it can stop after `limit` readable matches instead of
    reading a long posting list to the end. FTS5 yields rowid order, so SQLite keeps the lowest
    ids; PostgreSQL must not be asked to order (its planner would walk the primary key and test
    every row), so it keeps any `limit` equally good ones.
    """
    match = ranking.SQLITE_MATCH if sqlite else ranking.POSTGRES_MATCH
    union = " UNION ALL ".join(match.format(i=i) for i in range(probes))
    if sqlite:
        # SQLite tests matches against the reader's list of readable documents, built once per
        # statement (with an automatic index). Without planner statistics it would do the
        # per-document lookup below through the tenant_id index, reading every grant of the
        # tenant for each document: 200 ms for a search.
        allowed = f"(id >> {CHUNK_BITS}) IN (SELECT document_id FROM allowed)"
        body = (f"{union} AND {allowed} ORDER BY id LIMIT :limit" if probes == 1
                else f"SELECT id, w FROM ({union}) b WHERE {allowed}")
        return f"WITH allowed AS MATERIALIZED ({_ALLOWED}) {body}"
    if probes == 1:
        return f"""
            SELECT id, w FROM ({union}) p
            WHERE {GRANTED.format(document=f"p.id >> {CHUNK_BITS}")} LIMIT :limit"""
    return f"""
        WITH matches AS MATERIALIZED ({union}),
        documents AS MATERIALIZED (
            SELECT m.document_id FROM (SELECT DISTINCT id >> {CHUNK_BITS} AS document_id
                                       FROM matches) m
            WHERE {GRANTED.format(document="m.document_id")})
        SELECT id, w FROM matches
        WHERE (id >> {CHUNK_BITS}) IN (SELECT document_id FROM documents)"""
