"""Query planning and scoring: which terms to ask the index for, and what each is worth.

Why not FTS5's bm25() or ts_rank_cd(): both score every matching row with per-row work (a
document-size lookup and position decoding in FTS5, a tsvector detoast in PostgreSQL), about
15 µs a row. A business email's words match hundreds of thousands of passages in a million, so
ranking that way takes seconds. Instead, each term is looked up in the index's own statistics
first (FTS5's vocabulary table; PostgreSQL's lexeme statistics); terms so common that they say
little are dropped while their postings would exceed a row budget, and each kept term becomes
one index probe worth its IDF. A passage's score is the sum of the IDFs of the terms it holds:
BM25 with binary term frequency, which is what detail=column indexes give anyway, and passages
are all ~300 tokens so length normalisation changes little.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

MAX_CLAUSES = 8
# Total postings the probes may read: keeps a query to a few milliseconds at a million passages.
ROW_BUDGET = 8_000
# SQLite: document frequencies are counted up to this; a word at the cap counts as common.
DF_CAP = 2_000
_STATS_TTL_S = 300.0
_pg_cache: dict[str, tuple[float, dict[str, float], float, float]] = {}

SQLITE_MATCH = ("SELECT rowid AS id, :w{i} AS w FROM kb_chunks_fts "
                "WHERE kb_chunks_fts MATCH :m{i}")
POSTGRES_MATCH = ("SELECT id, :w{i} AS w FROM kb_chunks "
                  "WHERE tsv @@ to_tsquery('english', :m{i})")


@dataclass(frozen=True)
class TermStat:
    """A query word, its index term (stem), and how many passages hold it."""

    word: str
    term: str
    df: float


@dataclass(frozen=True)
class Stats:
    terms: list[TermStat]
    total: float                     # passages in the index
    common: float = DF_CAP           # a term with at least this df is too common to probe


@dataclass(frozen=True)
class Clause:
    """One index probe: a word (or two, both required) and its weight."""

    words: tuple[str, ...]
    weight: float

    def match(self, sqlite: bool) -> str:
        if sqlite:
            return " AND ".join(f'"{w}"' for w in self.words)
        return " & ".join(self.words)


def idf(df: float, total: float) -> float:
    """BM25's inverse document frequency."""
    return math.log(1 + (total - df + 0.5) / (df + 0.5))


def plan(stats: Stats) -> list[Clause]:
    """The probes to run: rare terms first, within MAX_CLAUSES and ROW_BUDGET; when the query
    has only common words, the two rarest together (both required)."""
    found: dict[str, TermStat] = {}
    for t in stats.terms:
        if t.df > 0 and t.term not in found:
            found[t.term] = t
    ranked = sorted(found.values(), key=lambda t: t.df)
    total = max(stats.total, 1.0)
    rare = [t for t in ranked if t.df < min(stats.common, ROW_BUDGET)]
    clauses, rows = [], 0.0
    for t in rare[:MAX_CLAUSES]:
        if clauses and rows + t.df > ROW_BUDGET:
            break
        clauses.append(t)
        rows += t.df
    if clauses:
        return [Clause((t.word,), idf(t.df, total)) for t in clauses]
    if not ranked:
        return []
    pair = ranked[:2]
    return [Clause(tuple(t.word for t in pair), sum(idf(t.df, total) for t in pair))]


def fallback(stats: Stats) -> list[Clause]:
    """When the planned probes find nothing: the two commonest-but-present words together."""
    common = sorted((t for t in stats.terms if t.df >= min(stats.common, ROW_BUDGET)),
                    key=lambda t: t.df)[:2]
    if not common:
        return []
    total = max(stats.total, 1.0)
    return [Clause(tuple(t.word for t in common), sum(idf(t.df, total) for t in common))]


def sqlite_stats(session: Session, words: list[str]) -> Stats:
    """Document frequencies from FTS5 itself, counted only up to DF_CAP per word.

    FTS5's vocabulary table counts a term's rows by reading its whole posting list, which is
    as slow as the query this is meant to avoid; a capped count costs at most DF_CAP rows, and
    a word at the cap is common enough to leave out anyway.
    """
    conn = session.connection()
    probes = " UNION ALL ".join(
        f"SELECT {i} AS i, (SELECT count(*) FROM (SELECT 1 FROM kb_chunks_fts WHERE "
        f"kb_chunks_fts MATCH :m{i} LIMIT {DF_CAP})) AS df" for i in range(len(words)))
    rows = conn.execute(text(probes), {f"m{i}": f'"{w}"' for i, w in enumerate(words)})
    terms = [TermStat(words[r.i], words[r.i], float(r.df)) for r in rows]
    return Stats(_merge_variants(terms), _sqlite_total(session))


def _merge_variants(terms: list[TermStat]) -> list[TermStat]:
    """"invoice" and "invoices" stem alike and count alike: keep the first of such a pair."""
    kept: list[TermStat] = []
    for t in terms:
        if not any(k.df == t.df and k.word[:4] == t.word[:4] for k in kept):
            kept.append(t)
    return kept


def _sqlite_total(session: Session) -> float:
    key = "sqlite:" + str(session.get_bind().url)
    cached = _pg_cache.get(key)
    if cached and time.monotonic() - cached[0] < _STATS_TTL_S:
        return cached[3]
    total = float(session.execute(text(
        "SELECT COALESCE(SUM(chunks), 0) FROM kb_documents")).scalar() or 0)
    _pg_cache[key] = (time.monotonic(), {}, 0.0, total)
    return total


def postgres_stats(session: Session, words: list[str]) -> Stats:
    """Lexemes from the 'english' configuration; frequencies from the planner's statistics
    on the tsvector column (refreshed by ANALYZE): common lexemes are listed with their share
    of rows, anything rarer is below the smallest listed share."""
    conn = session.connection()
    rows = conn.execute(text(
        "SELECT w, (SELECT string_agg(lexeme, ' ') FROM unnest(to_tsvector('english', w))) "
        "AS lexeme FROM unnest(CAST(:words AS text[])) AS w"), {"words": words})
    lexemes = {r.w: r.lexeme for r in rows if r.lexeme and " " not in r.lexeme}
    shares, floor, total = _pg_statistics(session)
    # Listed lexemes are common; an unlisted one is rarer than the rarest listed, by how much
    # the statistics do not say: a third of that bound is the estimate.
    unlisted = max(floor * total / 3, 1.0)
    terms = [TermStat(w, lex, shares[lex] * total if lex in shares else unlisted)
             for w, lex in lexemes.items()]
    return Stats(terms, total)


def _pg_statistics(session: Session) -> tuple[dict[str, float], float, float]:
    key = str(session.get_bind().url)
    cached = _pg_cache.get(key)
    if cached and time.monotonic() - cached[0] < _STATS_TTL_S:
        return cached[1], cached[2], cached[3]
    conn = session.connection()
    row = conn.execute(text(
        "SELECT most_common_elems::text::text[] AS elems, most_common_elem_freqs AS freqs "
        "FROM pg_stats WHERE tablename = 'kb_chunks' AND attname = 'tsv'")).first()
    total = float(conn.execute(text(
        "SELECT GREATEST(reltuples, 0) FROM pg_class WHERE relname = 'kb_chunks'")).scalar() or 0)
    shares: dict[str, float] = {}
    floor = 0.0
    if row is not None and row.elems:
        # most_common_elem_freqs: one share per element, then min, max and null share.
        shares = dict(zip(row.elems, row.freqs))
        floor = min(row.freqs[:len(row.elems)])
    if total <= 0:
        total = float(conn.execute(text("SELECT count(*) FROM kb_chunks")).scalar() or 0)
    floor = floor or (1.0 / max(total, 1.0))
    if total > 0:  # an empty index is not worth remembering: documents are on their way
        _pg_cache[key] = (time.monotonic(), shares, floor, total)
    return shares, floor, total


