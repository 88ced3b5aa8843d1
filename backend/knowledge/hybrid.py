"""Hybrid ranking: reciprocal-rank fusion of lexical and embedding rankings.

Two ways in: passages found by the lexical search and by the nearest-vector search
(vectors.py) fused by rank, or, where no vectors are stored, lexical candidates re-ordered by
their similarity to the query. Either way only passages the reader may read reach this step
(both searches filter in SQL), so fusion can reorder but never widen what is returned.
"""
from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

from backend.knowledge.index import Hit

RRF_K = 60  # the usual constant: ranks matter, raw scores of different kinds do not


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def fuse_ranked(rankings: Sequence[Sequence[Hashable]]) -> list[Hashable]:
    """The keys of several rankings (each best first) ordered by reciprocal-rank fusion.

    A key missing from a ranking gets nothing from it; ties keep the order keys were first
    seen in, so the first ranking given (the lexical one) decides between equals.
    """
    score: dict[Hashable, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking):
            score[key] = score.get(key, 0.0) + 1 / (RRF_K + rank + 1)
    first_seen = {key: i for i, key in enumerate(score)}
    return sorted(score, key=lambda k: (-score[k], first_seen[k]))


def fuse(query: Sequence[float], candidates: Sequence[Sequence[float]]) -> list[int]:
    """Candidate indexes (given in lexical order) ordered by fused rank, best first."""
    by_vector = sorted(range(len(candidates)), key=lambda i: -cosine(query, candidates[i]))
    return fuse_ranked([range(len(candidates)), by_vector])  # type: ignore[return-value]


def fuse_hits(rankings: Sequence[Sequence[Hit]]) -> list[Hit]:
    """Passages from several searches (lexical first), fused by rank, each passage once."""
    by_id = {hit.chunk_id: hit for ranking in reversed(rankings) for hit in ranking}
    order = fuse_ranked([[hit.chunk_id for hit in ranking] for ranking in rankings])
    return [by_id[chunk_id] for chunk_id in order]  # type: ignore[index]
